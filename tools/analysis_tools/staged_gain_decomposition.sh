#!/usr/bin/env bash
# Where the staged student's gain comes from (docs/benchmarks.md section 1,
# "What the gain is made of"): the benchmark's best distilled
# student, `kd_staged_cached_t1` (stage 1's feature-level start, then the
# baseline's schedule of labels + prediction level on soft targets at
# t_c = t_d = 1), taken apart into
#   stage1_labels  stage 1's start, then the labels alone (the prediction
#                  term's weight set to 0: the same data, order and steps);
#   scratch_pred   a random start, then labels + prediction level.
# Each is the saved config of the finished `kd_staged_cached_t1` run of the
# seed with one change, so everything else (soft-target file, schedule,
# augmentation, seed) is the same. Starts from a finished
# `tools/benchmarks/accuracy.py` work dir: run
#   python tools/benchmarks/accuracy.py --only baseline reference \
#     teacher_wsddn kd_stage1 kd_staged_cached_t1 --seed SEED \
#     --work-dir WORK_DIR --student-epochs 60
# first. Prints each run's val mAP beside the baseline's and
# `kd_staged_cached_t1`'s. About 9 minutes per run on 2 CPU cores; a rerun
# skips the finished runs ($OUT/NAME/seedS.done).
# Usage: bash tools/analysis_tools/staged_gain_decomposition.sh \
#   [WORK_DIR] [SEEDS] [RUNS] [OUT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
WORK=$(realpath "${1:-work_dirs/benchmarks/epochs60}")
SEEDS=${2:-0}
RUNS=${3:-stage1_labels scratch_pred}
OUT=$(realpath -m "${4:-work_dirs/benchmarks/x_decomposition}")
PY=${PY:-.venv/bin/python}
. tools/analysis_tools/bench_ablation_lib.sh
mkdir -p "$OUT/configs"

change() {  # RUN -> the one change to kd_staged_cached_t1's config
  case $1 in
    stage1_labels) echo "model = dict(pred_distill=dict(loss=dict(loss_weight=0.0)))" ;;
    scratch_pred) echo "model = dict(student=dict(init_cfg=None))" ;;
    *) echo "unknown run '$1' (expected stage1_labels or scratch_pred)" >&2
       exit 1 ;;
  esac
}

for seed in $SEEDS; do
  base=$(saved_config kd_staged_cached_t1 "$seed")
  for run in $RUNS; do
    cfg=$OUT/configs/${run}_seed$seed.py
    body=$(change "$run")
    printf '%s\n' "_base_ = ['$base']" "$body" > "$cfg"
    train_run "seed $seed: $run" "$OUT/$run/seed$seed" "$cfg"
  done
done

for seed in $SEEDS; do
  echo "seed $seed: baseline $(map_of "$WORK/baseline/seed$seed/done.json")," \
    "kd_staged_cached_t1 $(map_of "$WORK/kd_staged_cached_t1/seed$seed/done.json")"
  for run in $RUNS; do
    [ -f "$OUT/$run/seed$seed.done" ] &&
      echo "  $run: $(last_val_map "$OUT/$run/seed$seed.log")"
  done
done
