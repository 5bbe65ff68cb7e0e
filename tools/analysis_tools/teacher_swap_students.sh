#!/usr/bin/env bash
# Which of a teacher's two signals makes its staged student better or worse
# than another teacher's (docs/benchmarks.md section 1, "Which stage
# carries the teacher's schedule"). Takes two finished
# `tools/benchmarks/accuracy.py` work dirs A and B of the same data and
# seed, each with `teacher_wsddn`, `kd_stage1` and `kd_staged_cached_noflip`
# done, and trains stage 2 of the 2 x 2 cells
#   feat-X_pred-Y  stage 1's feature-level start of teacher X, then labels
#                  + prediction level on teacher Y's cached soft targets:
#                  Y's saved `kd_staged_cached_noflip` config with X's
#                  stage-1 checkpoint as the student's start;
# the two swapped cells at the work dirs' seed, and all four at each
# stage-2 seed of STAGE2_SEEDS (`randomness.seed`: the data order and
# whatever stage 1's checkpoint does not set; the same-teacher cells at
# the work dirs' seed are the accuracy.py runs themselves). Prints each
# cell's val mAP per seed, its mean and standard deviation. About 5
# minutes per run on 2 CPU cores; a rerun skips the finished runs
# ($OUT/CELL/seedS.done). Defaults: SEED 1, STAGE2_SEEDS "11 12" (an
# empty argument: none), OUT teacher_swap beside WORK_A.
# Usage: bash tools/analysis_tools/teacher_swap_students.sh \
#   WORK_A WORK_B [SEED] [STAGE2_SEEDS] [OUT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ $# -ge 2 ] || { sed -n '2,21p' "$0" >&2; exit 1; }
A=$(realpath "$1")
B=$(realpath "$2")
SEED=${3:-1}
STAGE2_SEEDS=${4-11 12}  # an empty argument: no extra seeds
OUT=$(realpath -m "${5:-$(dirname "$A")/teacher_swap}")
PY=${PY:-.venv/bin/python}
. tools/analysis_tools/bench_ablation_lib.sh

stage1_ckpt() {  # WORK -> the checkpoint of its finished kd_stage1 run
  local done=$1/kd_stage1/seed$SEED/done.json
  [ -f "$done" ] || { echo "missing $done: run tools/benchmarks/accuracy.py" \
    "--only kd_stage1 --seed $SEED --work-dir $1 first" >&2; exit 1; }
  grep -o '"checkpoint": "[^"]*"' "$done" | cut -d'"' -f4
}

cell_of() {  # FEAT_WORK PRED_WORK -> the cell's folder name
  echo "feat-$(basename "$1")_pred-$(basename "$2")"
}

run_cell() {  # FEAT_WORK PRED_WORK STAGE2_SEED
  local cell cfg ckpt
  cell=$(cell_of "$1" "$2")
  WORK=$2
  cfg=$(saved_config kd_staged_cached_noflip "$SEED")
  ckpt=$(stage1_ckpt "$1")
  train_run "$cell, stage-2 seed $3" "$OUT/$cell/seed$3" "$cfg" \
    randomness.seed="$3" "model.student.init_cfg.checkpoint=$ckpt"
}

run_cell "$A" "$B" "$SEED"
run_cell "$B" "$A" "$SEED"
for s in $STAGE2_SEEDS; do
  for feat in "$A" "$B"; do
    for pred in "$A" "$B"; do run_cell "$feat" "$pred" "$s"; done
  done
done

SEEDS=$(echo $SEED $STAGE2_SEEDS)  # word-split: one space between seeds
echo "| features from | soft targets from | stage-2 seeds $SEEDS:" \
  "val mAP | mean ± sd |"
echo "|---|---|---|---|"
for feat in "$A" "$B"; do
  for pred in "$A" "$B"; do
    cell=$(cell_of "$feat" "$pred")
    maps=()
    for s in $SEEDS; do
      if [ "$feat" = "$pred" ] && [ "$s" = "$SEED" ]; then
        maps+=("$(map_of "$feat/kd_staged_cached_noflip/seed$s/done.json")")
      else
        maps+=("$(last_val_map "$OUT/$cell/seed$s.log")")
      fi
    done
    echo "| $(basename "$feat") | $(basename "$pred") |" \
      "$(printf '%.1f ' "${maps[@]}")| $(printf '%s\n' "${maps[@]}" | mean_sd) |"
  done
done
