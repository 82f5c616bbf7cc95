# Self-hosting image for the restoration app, GPU or CPU.
#
#   docker build -t restoration .
#   docker run --gpus all -p 7860:7860 -v restoration-cache:/data restoration   # NVIDIA GPU
#   docker run -p 7860:7860 -v restoration-cache:/data restoration              # CPU only
#   docker compose --profile cluster up -d ray-head ray-worker app-cluster      # app + Ray head + GPU workers
#
# torch.compile (RESTORATION_COMPILE=1) needs a C compiler, which the slim image leaves out (about
# 250 MB): build with --build-arg EXTRA_PACKAGES=g++ to have it (that layer comes after the Python
# packages, so it costs only itself). Without one the app runs eagerly.
#
# Base: python:3.12-slim, not a CUDA image: the same Python as the Space (README's front matter; both
# are held to docs/zerogpu-versions.toml by tests/test_packaging.py). The PyPI torch wheels carry
# their own CUDA runtime libraries (CUDA 13.0 for torch 2.11.0), so the same image runs on a GPU (the
# host needs only the NVIDIA driver, 580 or newer, and the container toolkit for --gpus) and on a
# CPU, and it stays about 2 GB smaller than a CUDA base.
ARG PYTHON_VERSION=3.12.12
FROM python:${PYTHON_VERSION}-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860 \
    HF_HOME=/data/huggingface \
    RESTORATION_COMPILE_CACHE=/data/torch-compile \
    RESTORATION_OUTPUT_DIR=/tmp/restoration-outputs

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Debian packages the app needs (the same list a Hugging Face Space installs).
COPY packages.txt /tmp/packages.txt
# hadolint ignore=DL3008
RUN apt-get update \
    && grep -vE '^[[:space:]]*(#|$)' /tmp/packages.txt | xargs apt-get install -y --no-install-recommends \
    && rm -rf /var/lib/apt/lists/* /tmp/packages.txt

RUN useradd --create-home --uid 1000 app \
    && mkdir -p /data /app \
    && chown app:app /data /app

WORKDIR /app
COPY requirements.txt requirements-cluster.txt ./
RUN pip install --no-cache-dir -r requirements.txt
# Ray, so that the same image is the app, a Ray head and a Ray worker (docker-compose.yml, profile
# "cluster"); build with --build-arg CLUSTER=0 for an app-only image without it.
ARG CLUSTER=1
RUN if [ "$CLUSTER" = "1" ]; then pip install --no-cache-dir -r requirements-cluster.txt; fi \
    && mkdir -p /shared && chown 1000:1000 /shared

# Extra Debian packages (g++ for torch.compile...): after the Python packages, so that adding one
# rebuilds only this layer.
ARG EXTRA_PACKAGES=""
# hadolint ignore=DL3008,SC2086
RUN if [ -n "$EXTRA_PACKAGES" ]; then apt-get update \
    && apt-get install -y --no-install-recommends $EXTRA_PACKAGES && rm -rf /var/lib/apt/lists/*; fi

COPY --chown=1000:1000 . .
USER 1000

# Downloaded weights (the Hugging Face cache) and compiled kernels live here: mount a volume so
# they are made once.
VOLUME ["/data"]
EXPOSE 7860
# Probes the port the app serves (GRADIO_SERVER_PORT), whatever it is set to.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/' % os.environ.get('GRADIO_SERVER_PORT', '7860'), timeout=4)"]
# The app stops on SIGTERM (docker stop) within seconds: running jobs are stopped, the queue closed.
CMD ["python", "app.py"]
