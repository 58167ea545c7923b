FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev
COPY . .
RUN APP_ENV=production SECRET_KEY=build-only ALLOWED_HOSTS=localhost BLIND_INDEX_KEY=build-only \
    FIELD_ENCRYPTION_KEYS=YnVpbGQtb25seS1rZXktbmV2ZXItdXNlZC1hdC1ydW4= \
    python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--limit-request-line", "4094", "--limit-request-fields", "50", "--limit-request-field_size", "8190"]
