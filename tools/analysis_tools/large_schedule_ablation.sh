#!/usr/bin/env bash
# The student schedules on the large MultiDigits preset (docs/benchmarks.md
# section 1, "Schedules, not the feature level"): the 64 px student on the
# labels alone for 15 to 90 epochs, the 128 px reference for 60, and the
# distilled students with and without stage 1's start, the prediction level
# on cached soft targets, with or without the feature level, for 15 to 60
# epochs; one seed. Starts from a finished
# `tools/benchmarks/accuracy.py` work dir of that seed (its teacher, stage 1,
# soft targets and the configs those runs saved): run
#   python tools/benchmarks/accuracy.py --only baseline reference \
#     teacher_wsddn kd_stage1 kd_staged_cached kd_staged_feat_cached \
#     --seed SEED --work-dir WORK_DIR --data-root DATA_ROOT
# first. Prints each run's val mAP. About 2.5 hours on 2 CPU cores; a
# rerun skips the finished runs ($OUT/NAME.done).
# Usage: bash tools/analysis_tools/large_schedule_ablation.sh \
#   [WORK_DIR] [SEED] [OUT]
# RUNS="baseline_60e staged_pred_30e ..." trains (and prints) only those
# runs (the names below; default: all).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
WORK=$(realpath "${1:-work_dirs/benchmarks/accuracy}")
SEED=${2:-0}
OUT=$(realpath -m "${3:-work_dirs/large_schedule_ablation}")
PY=${PY:-.venv/bin/python}
. tools/analysis_tools/bench_ablation_lib.sh
BASE=$(saved_config baseline "$SEED")
REF=$(saved_config reference "$SEED")
PRED=$(saved_config kd_staged_cached "$SEED")  # stage 2: labels + prediction level
FEAT=$(saved_config kd_staged_feat_cached "$SEED")  # ... + feature level
mkdir -p "$OUT/configs"

NAMES=() LABELS=() KNOWN=() MODE=list
run() {  # NAME LABEL BASE_CONFIG EPOCHS WARMUP STAGE1(0|1|- plain student)
  local cfg=$OUT/configs/$1.py init=''
  if [ "$MODE" = list ]; then KNOWN+=("$1"); return 0; fi
  if [ -n "${RUNS:-}" ] && [[ " $RUNS " != *" $1 "* ]]; then
    return 0
  fi
  NAMES+=("$1") LABELS+=("$2")
  [ "$6" = 0 ] && init='model = dict(student=dict(init_cfg=None))'
  printf "_base_ = ['%s']\n%s\n%s\n" "$3" "$init" "$(schedule "$4" "$5")" \
    > "$cfg"
  train_run "training $1" "$OUT/$1" "$cfg" "randomness.seed=$SEED"
}

S1='stage 1 (15 epochs), then labels +'
plan() {
run baseline_15e "labels only, 15 epochs" "$BASE" 15 1 -
run baseline_45e "labels only, 45 epochs" "$BASE" 45 1 -
run baseline_60e "labels only, 60 epochs" "$BASE" 60 1 -
run baseline_90e "labels only, 90 epochs" "$BASE" 90 1 -
run reference_60e "128 px reference, labels only, 60 epochs" "$REF" 60 1 -
run pred_15e "labels + prediction level, 15 epochs, no stage 1" \
  "$PRED" 15 0 0
run pred_30e "labels + prediction level, 30 epochs, no stage 1" \
  "$PRED" 30 1 0
run both_30e "labels + prediction + feature level, 30 epochs, no stage 1" \
  "$FEAT" 30 1 0
run staged_pred_15e "$S1 prediction level, 15 epochs" "$PRED" 15 0 1
run staged_feat_15e "$S1 prediction + feature, 15 epochs" "$FEAT" 15 0 1
run staged_pred_30e "$S1 prediction level, 30 epochs" "$PRED" 30 1 1
run staged_feat_30e "$S1 prediction + feature, 30 epochs" "$FEAT" 30 1 1
run staged_pred_60e "$S1 prediction level, 60 epochs" "$PRED" 60 1 1
}
plan
for r in ${RUNS:-}; do
  [[ " ${KNOWN[*]} " == *" $r "* ]] || {
    echo "RUNS: unknown run '$r'; the runs are: ${KNOWN[*]}" >&2; exit 1; }
done
MODE=train
plan
echo "seed $SEED, val mAP of the 64 px student (baseline 30 epochs:" \
  "$(grep -o '"mAP": [0-9.]*' "$WORK/baseline/seed$SEED/done.json")):"
for i in "${!NAMES[@]}"; do
  echo "${LABELS[$i]}: $(grep 'Epoch(val)' "$OUT/${NAMES[$i]}.log" |
    tail -1 | grep -o 'mAP: [0-9.]*' | head -1)"
done
