# AI Sonar's gateway: `aisonar serve` as an unprivileged user, healthy once /readyz answers.
# Build from the repository's root: docker build -t aisonar .
# deploy/compose.yaml and deploy/kubernetes/ run it; docs/deploy.md says how.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
# The pinned dependencies first, so that a change of the code alone reuses this layer.
COPY requirements.lock ./
RUN python -m venv /opt/aisonar \
    && /opt/aisonar/bin/pip install --no-cache-dir --disable-pip-version-check -r requirements.lock
COPY pyproject.toml README.md ./
COPY aisonar ./aisonar
RUN /opt/aisonar/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps .

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/aisonar --create-home aisonar
COPY --from=build /opt/aisonar /opt/aisonar
ENV PATH=/opt/aisonar/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AISONAR_ENV=production \
    AISONAR_DATA_DIR=/var/lib/aisonar \
    AISONAR_HOST=0.0.0.0 \
    AISONAR_PORT=8400
USER 10001:10001
WORKDIR /var/lib/aisonar
EXPOSE 8400
# uvicorn drains on SIGTERM for AISONAR_SHUTDOWN_GRACE_S (30 s by default): give the
# container that long and a little more (`docker stop -t 40`, compose's stop_grace_period,
# Kubernetes' terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8400/readyz', timeout=2)"]
CMD ["aisonar", "serve"]
