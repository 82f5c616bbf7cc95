#!/usr/bin/env bash
# One command on a lent GPU machine that checks every CUDA path and measures the speed table, in under
# 9 minutes, everything under one output folder. Parts run in order of value, each with its own time
# limit and never past the overall deadline; each writes its results as soon as it ends, so a cut tail
# loses only itself. A short summary ends it (benchmarks/gpu_summary.py).
#
#   bash benchmarks/gpu_check.sh [--out DIR] [--deadline SECONDS] [--dry-run]
#
# Every Python step runs $PYTHON (default: python3 from PATH); the tests set it to their own interpreter,
# so a suite started as .venv/bin/python -m pytest without activating the venv checks that venv.
#
# What travels with the working tree, in the ignored folder .gpu/ (make it with
# `bash benchmarks/gpu_check.sh --prepare` on a machine that has ../shared and pip):
#   .gpu/weights/  trained weights (what fits the 64 MiB a call carries beside the wheels: YuNet, the
#                  compact and anime networks; x4plus then runs with random weights, the same arithmetic)
#   .gpu/wheels/   what the GPU machine lacks: spandrel, spandrel_extra_arches, av (PyAV)
#   .gpu/tools/    the peer benchmark (../shared/tools/peer_realesrgan.py)
# On the device tool: carry [".gpu"], command `bash benchmarks/gpu_check.sh --out $OUT`.
#
# --dry-run: the same parts at small sizes on the CPU, in seconds (tests/test_gpu_check.py runs it).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-gpu-check-out}
DEADLINE=540
DRY=0
PREPARE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --deadline) DEADLINE=$2; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --prepare) PREPARE=1; shift ;;
    *) echo "unknown argument $1 (use --out DIR, --deadline SECONDS, --dry-run, --prepare)" >&2; exit 2 ;;
  esac
done

if [ "$PREPARE" = 1 ]; then  # on the development machine: fill .gpu/ for the device
  grep -qxF '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
  mkdir -p .gpu/weights .gpu/wheels .gpu/tools
  for f in face_detection_yunet_2026may.onnx realesr-animevideov3.fp16.safetensors \
           RealESRGAN_x4plus_anime_6B.fp16.safetensors rife-4.26.flownet.pkl; do
    cp -f "../shared/weights/$f" .gpu/weights/; done
  cp -f ../shared/tools/peer_realesrgan.py .gpu/tools/
  "${PYTHON:-python3}" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/wheels spandrel==0.4.2 spandrel_extra_arches==0.2.0 av==18.1.0
  du -sh .gpu
  exit 0
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
START=$(date +%s)
STATUS="$OUT/parts.tsv"
: > "$STATUS"
export PYTHONUNBUFFERED=1

# What the machine lacks, from the carried wheels (the project's pins do not apply there).
if [ -d .gpu/wheels ] && ls .gpu/wheels/*.whl >/dev/null 2>&1; then
  "${PYTHON:-python3}" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .gpu/wheels/*.whl > "$OUT/wheels.log" 2>&1 && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
MODELS=$(mktemp -d)
if [ -d .gpu/weights ]; then
  export RESTORATION_BENCH_WEIGHTS=$PWD/.gpu/weights
  # the library's own names for the trained files, for the tests and the library path
  for pair in "realesr-animevideov3:realesr-animevideov3.fp16.safetensors" \
              "realesrgan-x4plus-anime:RealESRGAN_x4plus_anime_6B.fp16.safetensors" \
              "realesrgan-x4plus:RealESRGAN_x4plus.fp16.safetensors" \
              "face_detection_yunet_2026may:face_detection_yunet_2026may.onnx"; do
    id=${pair%%:*}; file=${pair#*:}; ext=${file##*.}
    [ -f ".gpu/weights/$file" ] && ln -sf "$PWD/.gpu/weights/$file" "$MODELS/$id.$ext"
  done
fi
export HF_HUB_OFFLINE=1 RESTORATION_MODELS_DIR=$MODELS
PY=${PYTHON:-python3}

# part NAME LIMIT COMMAND...: run it with its own limit, never past the deadline; log and status kept.
part() {
  local name=$1 limit=$2; shift 2
  local left=$(( DEADLINE - ($(date +%s) - START) ))
  if [ "$left" -le 5 ]; then printf '%s\tnot run (deadline)\t0\n' "$name" >> "$STATUS"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0; t0=$(date +%s)
  echo "== $name (limit ${limit}s)"
  timeout --kill-after=5 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$? took=$(( $(date +%s) - t0 ))
  local what="ok"; [ "$rc" = 124 ] || [ "$rc" = 137 ] && what="cut at ${limit}s"; [ "$rc" != 0 ] && [ "$what" = ok ] && what="failed (rc $rc)"
  printf '%s\t%s\t%s\n' "$name" "$what" "$took" >> "$STATUS"
  echo "   $what in ${took}s"
}

part env 30 bash -c "nvidia-smi; $PY -c 'import torch, sys; print(sys.version); print(torch.__version__, torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0))'"
if [ "$DRY" = 1 ]; then
  part harness 120 $PY benchmarks/run.py --quick --device cpu --only sr --models realesr-general-x4v3 --repeats 1 --json "$OUT/run.json"
  [ -f .gpu/tools/peer_realesrgan.py ] && part peer 60 $PY .gpu/tools/peer_realesrgan.py --weights .gpu/weights/RealESRGAN_x4plus.fp16.safetensors --device cpu --sizes 64 --project . --json "$OUT/peer.json"
  part cuda-tests 120 $PY -m pytest -q -p no:cacheprovider -m cuda tests --junitxml "$OUT/cuda-tests.xml"
  part interpolation 60 $PY benchmarks/interpolation_speed.py --device cpu --sizes 128x72 --reps 1 --json "$OUT/interpolation.json"
  part precision 60 $PY benchmarks/precision.py --dry-run --json "$OUT/precision.json"
  part memory 60 $PY benchmarks/activation_memory.py --models realesr-animevideov3 --size 64 --json "$OUT/memory.json"
else
  part harness 150 $PY benchmarks/run.py --json "$OUT/run.json"
  if [ -f .gpu/tools/peer_realesrgan.py ] && [ -f .gpu/weights/RealESRGAN_x4plus.fp16.safetensors ]; then
    part peer 90 $PY .gpu/tools/peer_realesrgan.py --weights .gpu/weights/RealESRGAN_x4plus.fp16.safetensors --device cuda --sizes 512,1024 --project . --json "$OUT/peer.json"
  else
    printf 'peer\tnot run (no peer tool or x4plus weights carried)\t0\n' >> "$STATUS"
  fi
  part cuda-tests 120 $PY -m pytest -q -p no:cacheprovider -m cuda tests --junitxml "$OUT/cuda-tests.xml"
  RIFE=(); [ -f .gpu/weights/rife-4.26.flownet.pkl ] && RIFE=(--weights .gpu/weights/rife-4.26.flownet.pkl)
  part interpolation 60 $PY benchmarks/interpolation_speed.py --device cuda --sizes 1280x720,1920x1080,3840x2160 \
    "${RIFE[@]}" --json "$OUT/interpolation.json"
  part precision 60 $PY benchmarks/precision.py --json "$OUT/precision.json"
  export RESTORATION_COMPILE_CACHE=$OUT/../compile-cache
  part compile-cold 200 $PY benchmarks/run.py --compile --only sr --models realesrgan-x4plus --json "$OUT/compile-cold.json"
  part compile-warm 60 $PY benchmarks/run.py --compile --only sr --models realesrgan-x4plus --json "$OUT/compile-warm.json"
  part faces 60 $PY benchmarks/faces.py --json "$OUT/faces.json"
  part denoise 40 $PY benchmarks/denoise.py --json "$OUT/denoise.json"
  part memory 40 $PY benchmarks/activation_memory.py --device cuda --json "$OUT/memory.json"
  if $PY -c "import ray" 2>/dev/null; then
    part scaling 90 $PY benchmarks/scaling.py --workers 1,2,4 --gpus-per-worker 0.25 --model realesrgan-x4plus --project 8,64 --json "$OUT/scaling.json"
  else
    printf 'scaling\tnot run (Ray is not on the machine, and its wheels do not fit the carry)\t0\n' >> "$STATUS"
  fi
fi
rm -rf "$MODELS"
$PY benchmarks/gpu_summary.py "$OUT" | tee "$OUT/summary.txt"
