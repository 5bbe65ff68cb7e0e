#!/usr/bin/env bash
# Everything a GPU session checks, in one device call (see
# docs/benchmarks.md, "Commands for a GPU session"), most needed first, each
# stage bounded so the whole call ends before DEADLINE seconds:
#   1. the CUDA tests: mmcv's CUDA RoIAlign against torchvision, WSDDN under
#      bf16/fp16 autocast, `tools/train.py --amp` in fp16 and bf16 for the
#      OICR teacher and the distiller (tests.txt);
#   2. the speed benchmark in the paper setting (speed/speed.md);
#   3. the large MultiDigits data and its proposals, then speed.py's
#      MD_SECTIONS in the multidigits setting (default "data train": the
#      data pipeline alone against the fastest training step; md/speed.md);
#   4. accuracy runs (ACCURACY, default "reference baseline") with what
#      time is left; their logs, done.json and final checkpoints are copied
#      to $OUT/accuracy, also when the deadline cuts a run off.
# Results go to $OUT, the GPU's name and the commit first (device.txt).
#
# On the device machine, from the repository root, with `.gpu-wheels`
# carried (a copy of ../shared/gpu-wheels):
#   OUT=$OUT COMMIT=<hash> bash tools/benchmarks/gpu_session.sh
# Environment: OUT (default work_dirs/gpu_session), DEADLINE (seconds,
# default 540), SECTIONS (speed.py sections, default "infer train roialign
# flops"), SKIP_TESTS=1, PYTEST_K (a pytest -k expression), MD_SECTIONS,
# MD_NUM_TRAIN (generate only this many train scenes: enough for the
# pipeline alone, not for ACCURACY), ACCURACY (accuracy.py --only names,
# default "reference baseline"; "" for none), SEED (default 0), COMMIT (the
# commit to record: the device's copy of the tree has no .git).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-work_dirs/gpu_session}
DEADLINE=${DEADLINE:-540}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
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

# Run "$@" for at most min(cap, time left before DEADLINE - reserve).
bounded() {
  local cap=$1 reserve=$2 left
  shift 2
  left=$((DEADLINE - SECONDS - reserve))
  [ "$left" -gt "$cap" ] && left=$cap
  if [ "$left" -lt 20 ]; then
    echo "skipped (deadline): $*" | tee -a "$OUT/skipped.txt"
    return 124
  fi
  echo "+ [${SECONDS}s, up to ${left}s] $*"
  timeout -k 5 "$left" "$@"
}

rc=0
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  # Named files only: collecting the whole suite would import modules
  # (mmdeploy) that the GPU machine does not have.
  bounded 200 0 python3 -m pytest -v -rA -p no:cacheprovider \
    ${PYTEST_K:+-k "$PYTEST_K"} \
    tests/test_models/test_roi_heads/test_wsddn_roi_head.py \
    tests/test_models/test_detectors/test_wsddn.py \
    tests/test_tools/test_amp_train.py 2>&1 | tee "$OUT/tests.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
fi
# shellcheck disable=SC2086
bounded 260 0 python3 tools/benchmarks/speed.py --device cuda \
  --out "$OUT/speed" --sections ${SECTIONS:-infer train roialign flops} \
  2>&1 | tee "$OUT/speed.log"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1

ROOT=data/multidigits_large${MD_NUM_TRAIN:+_$MD_NUM_TRAIN}
if [ -n "${MD_SECTIONS-data train}${ACCURACY-reference baseline}" ]; then
  bounded 120 60 python3 tools/benchmarks/accuracy.py --prepare-only \
    --data-root "$ROOT" ${MD_NUM_TRAIN:+--num-train "$MD_NUM_TRAIN" \
    --num-val 64} 2>&1 | tee "$OUT/prepare.log"
  [ "${PIPESTATUS[0]}" = 0 ] || { rc=1; ACCURACY=; MD_SECTIONS=; }
fi
if [ -n "${MD_SECTIONS-data train}" ]; then
  # shellcheck disable=SC2086
  bounded 120 10 python3 tools/benchmarks/speed.py --device cuda \
    --setting multidigits --sections ${MD_SECTIONS-data train} \
    --data-root "$ROOT" --out "$OUT/md" 2>&1 | tee "$OUT/md.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
fi
if [ -n "${ACCURACY-reference baseline}" ] && [ -z "${MD_NUM_TRAIN:-}" ]; then
  # shellcheck disable=SC2086
  bounded 600 10 python3 tools/benchmarks/accuracy.py \
    --only ${ACCURACY-reference baseline} --seed "${SEED:-0}" --amp \
    2>&1 | tee "$OUT/accuracy.log"
  # Logs, results and the final checkpoints (about 1 MB each), flat: the
  # device tool returns no deep folders.
  mkdir -p "$OUT/accuracy"
  for f in $(find work_dirs/benchmarks/accuracy \( -name '*.log' \
      -o -name '*.json' -o -name '*.pth' \) 2>/dev/null); do
    cp "$f" "$OUT/accuracy/$(echo "${f#work_dirs/benchmarks/accuracy/}" |
      tr / _)"
  done
fi
echo "finished in ${SECONDS}s, rc=$rc"
exit $rc
