# aurora-upgrade-operator: `aurora-upgrade operator` (kopf) in a small non-root image.
# Build from the repository root:  docker build -t aurora-upgrade-operator:0.1.0 .
# BASE: any Debian-based image with python3 (3.11+) and its venv module; `make image` passes one
# built locally from Debian packages (see docs/install.md).
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/aurora-upgrade
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# The package and its pinned runtime dependencies only (no simulator, no test tools).
RUN /opt/aurora-upgrade/bin/pip install .

FROM ${BASE}
RUN groupadd --system --gid 10001 aurora \
    && useradd --system --uid 10001 --gid aurora --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin aurora
COPY --from=build /opt/aurora-upgrade /opt/aurora-upgrade
ENV PATH=/opt/aurora-upgrade/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# 8000: Prometheus metrics; 8080: kopf's liveness endpoint (--liveness).
EXPOSE 8000 8080
ENTRYPOINT ["aurora-upgrade", "operator"]
CMD ["--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz"]
