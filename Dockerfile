# One image for every role: `serve` (default), `migrate`, `worker`, `maintenance`, ...
# Build: docker build -t astrocoffee .   Run: docker run -e DATABASE_URL=... -e REDIS_URL=... astrocoffee

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first (pinned by constraints.txt), so code changes reuse this layer.
COPY pyproject.toml constraints.txt README.md ./
COPY backend ./backend
COPY realtime ./realtime
COPY db ./db
RUN /opt/venv/bin/pip install --constraint constraints.txt .

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 astrocoffee \
    && useradd --system --uid 10001 --gid astrocoffee --no-create-home astrocoffee
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PICCOLO_CONF=db.piccolo_conf \
    ASTROCOFFEE_ENVIRONMENT=production \
    ASTROCOFFEE_HOST=0.0.0.0 \
    ASTROCOFFEE_PORT=8000
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status != 200)"]
ENTRYPOINT ["astrocoffee"]
CMD ["serve"]
