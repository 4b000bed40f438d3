# syntax=docker/dockerfile:1
# Build stage: wheels of the locked dependencies (each checked against its hash), then the app.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# Runtime stage: no compilers, a non-root user, migrations then uvicorn.
# Production refuses the development defaults at start: pass at least DL_DATABASE_URL
# (PostgreSQL), DL_JWT_SECRET, DL_WEB_APP_URL, DL_PUBLIC_API_URL, DL_MAIL_TRANSPORT=smtp with
# DL_SMTP_HOST, and
# DL_CORS_ORIGINS without "*" (docs/operations.md has the docker run line).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DL_ENVIRONMENT=production \
    DL_DOCS_ENABLED=false \
    DL_LOG_FORMAT=json \
    PORT=8000 \
    FORWARDED_ALLOW_IPS=127.0.0.1
RUN groupadd --system app && useradd --system --gid app --home-dir /srv app
WORKDIR /srv
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/* && rm -rf /wheels
COPY alembic.ini ./
COPY alembic ./alembic
RUN mkdir -p /srv/var && chown app:app /srv/var
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"
# Every replica runs the migrations first (one at a time, under an advisory lock).
# X-Forwarded-For is trusted only from FORWARDED_ALLOW_IPS (set it to the load balancer's
# address): login throttling counts per client address, which a spoofed header must not dodge
# (docs/operations.md, "Proxy trust").
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn app.asgi:app --host 0.0.0.0 --port ${PORT} --proxy-headers --no-server-header --no-access-log"]
