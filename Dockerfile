FROM python:3.11-slim-bookworm
# Production settings by default: a container started without APP_ENV still refuses to run
# without its secrets (README "Production settings") instead of falling back to development keys.
ENV PYTHONUNBUFFERED=1 UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH \
    APP_ENV=production PRIVATE_MEDIA_ROOT=/data/private
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev
COPY . .
RUN SECRET_KEY=build-only ALLOWED_HOSTS=localhost BLIND_INDEX_KEY=build-only CACHE_URL=redis://build-only:6379/1 \
    FIELD_ENCRYPTION_KEYS=YnVpbGQtb25seS1rZXktbmV2ZXItdXNlZC1hdC1ydW4= \
    python manage.py collectstatic --noinput
# The code and static files stay root-owned (read-only to the app); the app writes only its
# private documents, in a folder only it may read.
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /app --no-create-home --shell /usr/sbin/nologin portal \
    && mkdir -p /data/private && chown portal:portal /data/private && chmod 0700 /data/private
USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--limit-request-line", "4094", "--limit-request-fields", "50", "--limit-request-field_size", "8190"]
