# syntax=docker/dockerfile:1
# paperbot's image: a virtual environment built in one stage, copied alone into a slim runtime.
#   docker build -t paperbot .
#   docker run --env-file .env -v paperbot-data:/var/lib/paperbot/data -p 3000:3000 paperbot
# Configuration comes from PAPERBOT_... variables, or a TOML file mounted and named by
# PAPERBOT_CONFIG (for example -v ./config.toml:/etc/paperbot/config.toml:ro).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: paperbot and its runtime dependencies into /opt/paperbot ----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/paperbot
# Only what the package is built from: tests, docs and benchmarks stay out of the image.
COPY pyproject.toml README.md ./
COPY src ./src
# A plain (non-editable) install of the project's dependencies only, no extras; then the
# installers themselves leave, since nothing installs packages at run time.
RUN /opt/paperbot/bin/pip install . \
 && /opt/paperbot/bin/pip uninstall --yes pip setuptools

# --- runtime: the environment, a non-root user and the data volume ------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 paperbot \
 && useradd --system --uid 10001 --gid paperbot --home-dir /var/lib/paperbot --create-home \
      --shell /usr/sbin/nologin paperbot \
 && mkdir -p /var/lib/paperbot/data \
 && chown paperbot:paperbot /var/lib/paperbot/data
COPY --from=build /opt/paperbot /opt/paperbot
ENV PATH="/opt/paperbot/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PAPERBOT_DATA_DIR=/var/lib/paperbot/data \
    PAPERBOT_HTTP__HOST=0.0.0.0 \
    PAPERBOT_HTTP__PORT=3000
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/paperbot
# The SQLite file (when no PostgreSQL URL is set) and the search index live here.
VOLUME ["/var/lib/paperbot/data"]
EXPOSE 3000
# /healthz answers 503 when the database or a chat platform is down; urlopen raises on it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PAPERBOT_HTTP__PORT', '3000') + '/healthz', timeout=4)" || exit 1
ENTRYPOINT ["paperbot"]
CMD ["run"]
