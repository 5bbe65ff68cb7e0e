#!/usr/bin/env bash
# Everything a GPU session checks, in one device call (see
# docs/benchmarks.md, "Commands for a GPU session"): the CUDA tests (mmcv's
# CUDA RoIAlign against torchvision, WSDDN under bf16/fp16 autocast,
# `tools/train.py --amp` in fp16 and bf16 for the OICR teacher and the
# distiller), then the speed benchmark in the paper setting. Results go to
# $OUT (tests.txt, speed/speed.md), the GPU's name and the commit first.
#
# On the device machine, from the repository root, with `.gpu-wheels`
# carried (a copy of ../shared/gpu-wheels):
#   bash tools/benchmarks/gpu_session.sh
# Environment: OUT (default work_dirs/gpu_session), SECTIONS (speed.py
# sections, default "infer train roialign flops"), SKIP_TESTS=1, COMMIT (the
# commit to record: the device's copy of the tree has no .git).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-work_dirs/gpu_session}
mkdir -p "$OUT"
if [ -d .gpu-wheels ] && ! python3 -c 'import mmdet' 2>/dev/null; then
  python3 -m pip uninstall -y -q transformers
  python3 -m pip install -q --no-index --no-deps --no-compile \
    --target /tmp/site .gpu-wheels/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  echo "commit ${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  date -u +%Y-%m-%dT%H:%M:%SZ
} | tee "$OUT/device.txt"
rc=0
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  python3 -m pytest -q -ra -p no:cacheprovider tests \
    -k 'cuda or amp or roi_align or RoIAlign' 2>&1 | tee "$OUT/tests.txt"
  rc=${PIPESTATUS[0]}
fi
# shellcheck disable=SC2086
python3 tools/benchmarks/speed.py --device cuda --out "$OUT/speed" \
  --sections ${SECTIONS:-infer train roialign flops} || rc=1
exit $rc
