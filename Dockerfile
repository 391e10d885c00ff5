# One image for every process: api (gunicorn), worker, scheduler, migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# durable-rules builds a C extension; psycopg uses its binary wheel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY worker ./worker
COPY rules ./rules
# Editable, so rules/ and the Alembic migrations are read from /app as in development.
RUN pip install -e . \
    && apt-get purge -y build-essential && apt-get autoremove -y \
    && useradd --create-home --uid 10001 claims \
    && mkdir -p /app/instance && chown claims /app/instance

USER claims
ENV INSTANCE_DIR=/app/instance \
    RULES_DIR=/app/rules
EXPOSE 8000
CMD ["claims", "serve", "--host", "0.0.0.0", "--port", "8000"]
