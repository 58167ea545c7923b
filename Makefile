# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/var/tools/bin/uv)
MANAGE := $(UV) run --frozen python manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format install migrate seed bench messages worker clean

$(CURDIR)/var/tools/bin/uv:
	mkdir -p var
	python3 -m venv var/tools
	var/tools/bin/python -m pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	touch $@

install: .venv/.synced

migrate: install
	mkdir -p var
	$(MANAGE) migrate --noinput
	$(MANAGE) encrypt_private_files

seed: migrate
	$(MANAGE) seed_demo

run: seed
	$(MANAGE) runserver $(HOST):$(PORT)

# In parallel here, not in pytest's addopts: a single test run by hand starts no workers. Bytecode is
# cached even where the environment says not to (PYTHONDONTWRITEBYTECODE): each worker would otherwise
# compile and rewrite every test module on every run.
test: install
	PYTHONDONTWRITEBYTECODE= $(UV) run --frozen pytest -n auto --dist loadgroup $(PYTEST_ARGS)

# The floors (import-linter), style (ruff) and types (mypy); `make format` rewrites what ruff can.
lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports
	$(UV) run --frozen mypy

format: install
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

bench: install
	$(UV) run --frozen python -m bench $(BENCH_ARGS)

worker: install
	$(UV) run --frozen celery -A config worker -Q default,faces -l info

messages: install
	$(MANAGE) makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=var
	$(MANAGE) compilemessages -l zh_Hans --ignore=.venv

clean:
	rm -rf var/db.sqlite3 var/private
