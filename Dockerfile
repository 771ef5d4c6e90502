# syntax=docker/dockerfile:1
# The cartpole trainer image: the package with every metrics engine and Ray, run as a
# non-root user. Build from the repository root (.dockerignore trims the context):
#   make docker-build                        # cartpole/cartpole:latest
#   docker build -t acme/cartpole:v1 .       # the same by hand
#   docker build --target mlflow -t acme/cartpole-mlflow:v1 .   # the MLflow server
# Stages: build (a venv in /opt/venv, and npm) -> runtime (that venv on a clean base,
# non-root) -> trainer (the default, last); polyaxon (runtime + Polyaxon's client and
# polyaxon/entry.py); mlflow (an MLflow server whose version matches the client).

ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm

# --- build: the venv, and Visdom's page scripts from the npm registry ---------------
FROM ${PYTHON_IMAGE} AS build
# Versions that other files must agree with: kuberay/rayjob.yaml's rayVersion, and the
# MLflow server stage below (same client and server).
ARG RAY_VERSION=2.60.0
ARG MLFLOW_VERSION=3.17.2
ARG PIP_VERSION=26.3
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# npm fetches Visdom's page scripts below; it stays in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
RUN pip install "pip==${PIP_VERSION}"
COPY constraints/build.txt constraints/build.txt
COPY pyproject.toml setup.py README.md ./
COPY cartpole cartpole
# ray[default] brings the dashboard and job API that a KubeRay RayJob submits through.
# The package itself (".") takes its dependencies' ranges from pyproject.toml.
# hadolint ignore=DL3013
RUN pip install --build-constraint constraints/build.txt \
        ".[visdom,efk,mlflow,tensorboard,serving]" \
        "ray[default]==${RAY_VERSION}" "mlflow-skinny==${MLFLOW_VERSION}" \
 && python -m cartpole.metrics.visdom.server --assets-only \
 && cartpole --version

# --- mlflow: the tracking server for the compose mlflow profile ---------------------
# [auth]: the basic-auth app (`mlflow server --app-name basic-auth`) the compose file runs.
FROM ${PYTHON_IMAGE} AS mlflow
ARG MLFLOW_VERSION=3.17.2
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN pip install "mlflow[auth]==${MLFLOW_VERSION}" \
 && useradd --no-log-init --create-home --uid 1000 mlflow \
 && mkdir -p /mlflow && chown mlflow /mlflow
USER 1000
WORKDIR /mlflow
EXPOSE 5000
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000", \
     "--backend-store-uri", "sqlite:////mlflow/mlflow.db", \
     "--artifacts-destination", "/mlflow/artifacts"]

# --- runtime: the venv on a clean base, non-root ------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    RAY_USAGE_STATS_ENABLED=0
# wget: the health probes KubeRay adds to Ray pods call it.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends wget \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --no-log-init --create-home --uid 1000 cartpole \
 && mkdir -p /app/runs /app/.models /app/visdom && chown -R cartpole /app
COPY --from=build /opt/venv /opt/venv
USER 1000
WORKDIR /app
# Visdom 8097, cartpole serve 9000, Ray's dashboard 8265.
EXPOSE 8097 9000 8265
CMD ["cartpole", "train"]

# --- polyaxon: the runtime with Polyaxon's client and polyaxon/entry.py ------------
FROM runtime AS polyaxon
USER 0
COPY polyaxon/requirements.txt /tmp/polyaxon-requirements.txt
RUN pip install --no-cache-dir -r /tmp/polyaxon-requirements.txt \
 && rm /tmp/polyaxon-requirements.txt
COPY polyaxon/entry.py /app/polyaxon/entry.py
USER 1000
CMD ["python", "/app/polyaxon/entry.py"]

# --- trainer: the default target ------------------------------------------------------
FROM runtime AS trainer
