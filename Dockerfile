# Self-hosting image for the restoration app, GPU or CPU.
#
#   docker build -t restoration .
#   docker run --gpus all -p 7860:7860 -v restoration-cache:/data restoration   # NVIDIA GPU
#   docker run -p 7860:7860 -v restoration-cache:/data restoration              # CPU only
#   docker compose --profile cluster up -d                                      # app + Ray head + GPU workers
#
# torch.compile (RESTORATION_COMPILE=1) needs a C compiler, which the slim image leaves out (about
# 250 MB): build with --build-arg EXTRA_PACKAGES=g++ to have it. Without one the app runs eagerly.
#
# Base: python:3.11-slim, not a CUDA image. The PyPI torch wheels carry their own CUDA runtime
# libraries, so the same image runs on a GPU (the host needs only the NVIDIA driver and the
# container toolkit for --gpus) and on a CPU, and it stays about 2 GB smaller than a CUDA base.
FROM python:3.11-slim-bookworm

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

# Debian packages the app needs (the same list a Hugging Face Space installs), plus any extra ones.
ARG EXTRA_PACKAGES=""
COPY packages.txt /tmp/packages.txt
# hadolint ignore=DL3008
RUN apt-get update \
    && { grep -vE '^[[:space:]]*(#|$)' /tmp/packages.txt; printf '%s\n' $EXTRA_PACKAGES; } \
       | xargs apt-get install -y --no-install-recommends \
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

COPY --chown=1000:1000 . .
USER 1000

# Downloaded weights (the Hugging Face cache) and compiled kernels live here: mount a volume so
# they are made once.
VOLUME ["/data"]
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"]
CMD ["python", "app.py"]
