#!/usr/bin/env bash
# Everything a GPU session checks, in one device call (see
# docs/benchmarks.md, "Commands for a GPU session"), most needed first, each
# stage bounded so the whole call ends before DEADLINE seconds:
#   1. the CUDA tests: mmcv's CUDA RoIAlign against torchvision, WSDDN under
#      bf16/fp16 autocast, `tools/train.py --amp` in fp16 and bf16 for the
#      OICR teacher and the distiller, the fast path's preprocessor on the
#      GPU against the CPU, separable_roi_align against mmcv's CUDA
#      RoIAlign (tests.txt);
#   2. the speed benchmark in the paper setting (speed/speed.md);
#   3. the large MultiDigits data and its proposals, then speed.py's
#      MD_SECTIONS in the multidigits setting (default "data train": the
#      data pipeline alone against the fastest training step; md/speed.md);
#   4. accuracy runs (ACCURACY, default every accuracy.py experiment), in
#      four waves by dependency (references; teachers; students of a
#      teacher and stage 1; students of stage 1), every run of a wave and
#      every seed of SEEDS its own process side by side on the GPU (the
#      small models leave it mostly idle), with what time is left; their
#      logs and done.json are copied to accuracy/ (in session.tar.gz), the runs (with
#      final checkpoints) packed into $OUT/accuracy_runs.tar.gz, also when
#      the deadline cuts a run off. Unpack that at the repository root and
#      carry work_dirs/benchmarks/accuracy in the next session: finished
#      runs are skipped, and distilled students find their teachers.
#   PROFILE="paper multidigits" profiles the training steps of those
#      settings (speed.py --profile) before the accuracy runs.
# Results go to $OUT, the GPU's name and the commit first (device.txt);
# at the end everything but device.txt, summary.txt and
# accuracy_runs.tar.gz is packed into $OUT/session.tar.gz (the device tool
# returns at most 8 files).
#
# On the device machine, from the repository root, with `.gpu-wheels`
# carried (a copy of ../shared/gpu-wheels):
#   OUT=$OUT COMMIT=<hash> bash tools/benchmarks/gpu_session.sh
# Environment: OUT (default work_dirs/gpu_session), DEADLINE (seconds,
# default 540), SECTIONS (speed.py sections, default "infer train roialign
# flops"; "none" skips the paper-setting speed run), SKIP_TESTS=1,
# PYTEST_K (a pytest -k expression), MD_SECTIONS,
# MD_NUM_TRAIN (generate only this many train scenes: enough for the
# pipeline alone, not for ACCURACY), ACCURACY (accuracy.py --only names,
# default all; "" for none), PROFILE (settings whose training steps are
# profiled, default none), SEEDS (default "0"; "0 1 2" runs the
# three seeds side by side), STUDENT_EPOCHS (accuracy.py
# --student-epochs: the schedule of every run that learns the labels; use
# another ACC_DIR per schedule), TEACHER_EPOCHS (accuracy.py
# --teacher-epochs), COMMIT (the commit to record: the device's copy of the tree
# is the session's base commit plus uncommitted changes), ACC_DIR (default
# work_dirs/benchmarks/accuracy), DATA_ROOT, TINY=1 (the accuracy part on
# the CPU at accuracy.py --tiny sizes, without --amp, and PROFILE's runs
# at speed.py --tiny sizes on the CPU: a dry run of this script;
# tests/test_tools/test_benchmarks.py).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-work_dirs/gpu_session}
DEADLINE=${DEADLINE:-540}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
[ -n "${COMMIT:-}" ] && export MMKDWSD_COMMIT=$COMMIT
# The accuracy runs in waves by dependency: the references, then the
# teachers, then the students that need a teacher (and stage 1), then those
# that start from stage 1.
WAVES=("baseline reference baseline_noflip reference_noflip" "teacher_wsddn teacher_oicr teacher_oicr_graph teacher_oicr_graph1 teacher_oicr_detach \
teacher_wsddn_nfref"
  "kd_pred kd_feat kd_both kd_both_oicr kd_stage1 kd_stage1_oicr \
kd_pred_cached kd_pred_cached_flip kd_pred_cached_noflip \
kd_pred_cached_t1_noflip kd_pred_cached_t1_nfref_noflip kd_feat_noflip \
kd_both_noflip kd_stage1_noflip \
kd_pred_cached_oicr_noflip kd_pred_cached_refined_oicr_noflip kd_stage1_oicr_graph"
  "kd_staged kd_staged_cached kd_staged_feat kd_staged_feat_cached \
kd_staged_cached_t1 kd_staged_feat_cached_t1 kd_staged_cached_t1_oicr \
kd_staged_cached_flip kd_staged_cached_noflip kd_staged_cached_all_noflip \
kd_staged_cached_oicr_noflip kd_staged_cached_refined_oicr_noflip \
kd_staged_cached_mixed_oicr_noflip kd_staged_cached_oicr_graph_noflip")
ALL_RUNS="${WAVES[*]}"
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
    tests/test_tools/test_amp_train.py \
    tests/test_models/test_data_preprocessors/test_predecoded_data_preprocessor.py \
    tests/test_models/test_utils/test_separable_roi_align.py \
    2>&1 | tee "$OUT/tests.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
fi
if [ "${SECTIONS:-}" != none ]; then
  # shellcheck disable=SC2086
  bounded 260 0 python3 tools/benchmarks/speed.py --device cuda \
    --out "$OUT/speed" --sections ${SECTIONS:-infer train roialign flops} \
    2>&1 | tee "$OUT/speed.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
fi

ROOT=${DATA_ROOT:-data/multidigits_large${MD_NUM_TRAIN:+_$MD_NUM_TRAIN}}
ACC_DIR=${ACC_DIR:-work_dirs/benchmarks/accuracy}
# TINY=1: accuracy.py --tiny on the CPU (no --amp), a dry run of this script
TINY_ARGS=
[ "${TINY:-0}" = 1 ] && TINY_ARGS="--tiny --data-workers 1"
if [ -n "${MD_SECTIONS-data train}${ACCURACY-$ALL_RUNS}" ]; then
  # shellcheck disable=SC2086
  bounded 120 60 python3 tools/benchmarks/accuracy.py --prepare-only \
    --data-root "$ROOT" ${MD_NUM_TRAIN:+--num-train "$MD_NUM_TRAIN" \
    --num-val 64} $TINY_ARGS 2>&1 | tee "$OUT/prepare.log"
  [ "${PIPESTATUS[0]}" = 0 ] || { rc=1; ACCURACY=; MD_SECTIONS=; }
fi
if [ -n "${MD_SECTIONS-data train}" ]; then
  # shellcheck disable=SC2086
  bounded 120 10 python3 tools/benchmarks/speed.py --device cuda \
    --setting multidigits --sections ${MD_SECTIONS-data train} \
    --data-root "$ROOT" --out "$OUT/md" 2>&1 | tee "$OUT/md.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
fi
# The training steps again under torch.profiler, in their own processes
# (CUPTI can slow a process down after profiling), for the settings named
# in PROFILE ("paper", "multidigits"): the top operators by device time and
# how busy the device was per step (speed.py --profile).
profile_device="--device cuda"
[ "${TINY:-0}" = 1 ] && profile_device="--device cpu --tiny"
for setting in ${PROFILE:-}; do
  # shellcheck disable=SC2086
  TEARDOWN_CUPTI=1 bounded 200 10 python3 tools/benchmarks/speed.py \
    $profile_device --setting "$setting" --sections train --profile \
    --out "$OUT/profile_$setting" 2>&1 | tee "$OUT/profile_$setting.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
done
if [ -n "${ACCURACY-$ALL_RUNS}" ] && [ -z "${MD_NUM_TRAIN:-}" ]; then
  seeds=${SEEDS:-0}
  selected=" ${ACCURACY-$ALL_RUNS} "
  amp=--amp
  [ "${TINY:-0}" = 1 ] && amp=
  # WAVES in order, each run of a wave and each seed its own process, side
  # by side (a small model's step leaves the GPU mostly idle)
  for wave in "${WAVES[@]}"; do
    names=
    for name in $wave; do
      case $selected in *" $name "*) names="$names $name" ;; esac
    done
    [ -z "$names" ] && continue
    # the machine's cores shared by the wave's loaders and torch's CPU
    # threads (all cores per process otherwise), 1 to 8 each
    jobs=$(( $(echo $names | wc -w) * $(echo $seeds | wc -w) ))
    workers=$(( $(nproc) / jobs ))
    [ "$workers" -gt 8 ] && workers=8
    [ "$workers" -lt 1 ] && workers=1
    for seed in $seeds; do
      for name in $names; do
        # shellcheck disable=SC2086
        OMP_NUM_THREADS=$workers bounded 600 15 \
          python3 tools/benchmarks/accuracy.py --only "$name" \
          --seed "$seed" $amp --workers "$workers" --work-dir "$ACC_DIR" \
          --data-root "$ROOT" $TINY_ARGS \
          ${STUDENT_EPOCHS:+--student-epochs "$STUDENT_EPOCHS"} \
          ${TEACHER_EPOCHS:+--teacher-epochs "$TEACHER_EPOCHS"} \
          > "$OUT/accuracy_seed${seed}_$name.log" 2>&1 &
      done
    done
    wait
  done
  # Logs and results flat (the device tool returns no deep folders), the
  # runs in one archive with the final checkpoints that later runs start
  # from (reference, teachers, stage 1: 1-2 MB each; what travels to the
  # device is limited to 64 MiB, .gpu-wheels included).
  mkdir -p "$OUT/accuracy"
  runs=$(find "$ACC_DIR" \( -name '*.log' \
    -o -name '*.json' -o -name 'soft_targets*.pkl' \
    -o -regex '.*/\(reference\|teacher_[a-z]*\|kd_stage1[_a-z]*\)/seed[0-9]*/epoch_[0-9]*\.pth' \
    \) 2>/dev/null)
  # checkpoints of finished runs only: the weights-only copies below cannot
  # be resumed from, and an unfinished run restarts next time
  runs=$(for f in $runs; do
    case $f in *.pth) [ -f "$(dirname "$f")/done.json" ] || continue;; esac
    echo "$f"
  done)
  for f in $runs; do
    case $f in *.log|*.json)
      cp "$f" "$OUT/accuracy/$(echo "${f#"$ACC_DIR"/}" |
        tr / _)";;
    esac
  done
  # the weights alone (later runs load nothing else): a third of the size
  # shellcheck disable=SC2086
  python3 - $(echo "$runs" | grep '\.pth$') <<'PY'
import sys
import torch
for path in sys.argv[1:]:
    ckpt = torch.load(path, map_location='cpu', weights_only=False)
    torch.save(dict(state_dict=ckpt['state_dict'], meta=ckpt.get('meta')),
               path)
PY
  # shellcheck disable=SC2086
  [ -n "$runs" ] && tar czf "$OUT/accuracy_runs.tar.gz" $runs
fi
# The device tool brings back at most 8 files from $OUT: a summary (each
# accuracy run's last line, the tests' verdict), device.txt, the runs'
# archive and everything else in session.tar.gz (speed tables, logs).
{
  [ -f "$OUT/tests.txt" ] && tail -n 1 "$OUT/tests.txt"
  for f in "$OUT"/accuracy_seed*.log; do
    [ -f "$f" ] || continue
    echo "$(basename "$f" .log): $(grep -v 'decoding:' "$f" | tail -n 1 |
      cut -c1-400)"
  done
  [ -f "$OUT/skipped.txt" ] && cat "$OUT/skipped.txt"
  echo "finished in ${SECONDS}s, rc=$rc"
} > "$OUT/summary.txt"
(
  cd "$OUT" || exit 1
  files=$(find . -type f ! -name device.txt ! -name summary.txt \
    ! -name accuracy_runs.tar.gz ! -name session.tar.gz)
  # shellcheck disable=SC2086
  [ -n "$files" ] && tar czf session.tar.gz $files && rm -f $files
  find . -mindepth 1 -type d -empty -delete
)
cat "$OUT/summary.txt"
exit $rc
