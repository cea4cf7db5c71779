# syntax=docker/dockerfile:1
# Build stage: compile wheels for paperbot and its dependencies.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/paperbot
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/paperbot/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/paperbot/bin/pip install --no-cache-dir .

# Runtime stage: only the virtual environment, a non-root user and a data volume.
FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /var/lib/paperbot --create-home paperbot
COPY --from=build /opt/paperbot /opt/paperbot
ENV PATH="/opt/paperbot/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PAPERBOT_DATA_DIR=/var/lib/paperbot/data
USER paperbot
WORKDIR /var/lib/paperbot
VOLUME ["/var/lib/paperbot/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["paperbot"]
CMD ["run"]
