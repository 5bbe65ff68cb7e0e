#!/usr/bin/env bash
# Softer soft targets for the staged student (docs/benchmarks.md section 1,
# "First GPU runs"): the teacher's soft targets recomputed at temperatures
# t_c = t_d = T (the paper's 0.5 sharpens them; 1 is WSDDN's own image
# score), then the benchmark's stage 2 on them (`kd_staged_cached`: labels
# + prediction level, from the same stage-1 student, same schedule and
# seed). Starts from a finished `tools/benchmarks/accuracy.py` work dir (its
# teacher, stage 1 and the config `kd_staged_cached` saved): run
#   python tools/benchmarks/accuracy.py --only baseline reference \
#     teacher_wsddn kd_stage1 kd_staged_cached --seed SEED \
#     --work-dir WORK_DIR --student-epochs 60
# first. Prints each run's val mAP beside `kd_staged_cached`'s (T = 0.5)
# and the baseline's, and the soft targets' distance from the labels
# (soft_target_stats.py). About 9 minutes per run on 2 CPU cores; a rerun
# skips the finished soft targets and runs ($OUT/NAME/seedSEED.done), and
# resumes a cut one (soft targets from their .partial file, stage 2 from
# its last checkpoint, saved every CKPT_EVERY epochs, default 1).
# Usage: [DATA_ROOT=data/multidigits_large] bash \
#   tools/analysis_tools/soft_target_temperature_ablation.sh \
#   [WORK_DIR] [SEEDS] [TEMPERATURES] [OUT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
WORK=$(realpath "${1:-work_dirs/benchmarks/epochs60}")
SEEDS=${2:-0}
TEMPS=${3:-1 2}
OUT=$(realpath -m "${4:-work_dirs/benchmarks/x_epochs60}")
PY=${PY:-.venv/bin/python}
DATA=${DATA_ROOT:-data/multidigits_large}
mkdir -p "$OUT/configs"

. tools/analysis_tools/bench_ablation_lib.sh

for seed in $SEEDS; do
  base=$(saved_config kd_staged_cached "$seed")
  for t in $TEMPS; do
    name=kd_staged_cached_t$t
    cfg=$OUT/configs/${name}_seed$seed.py
    soft=$OUT/soft_targets_seed${seed}_t$t.pkl
    printf '%s\n' "_base_ = ['$base']" \
      "model = dict(pred_distill=dict(cls_temperature=float('$t')," \
      "                               det_temperature=float('$t')))" \
      "train_dataloader = dict(dataset=dict(dataset=dict(" \
      "    soft_target_file='$soft')))" \
      "default_hooks = dict(checkpoint=dict(interval=${CKPT_EVERY:-1}))" \
      > "$cfg"
    run=$OUT/$name/seed$seed
    [ -f "$run.done" ] && continue
    if [ ! -f "$soft" ]; then  # written whole at the end (a cut run's
      # progress is in $soft.partial, which the rerun continues from)
      echo "seed $seed, T=$t: soft targets ($(date +%T))"
      $PY tools/cache_soft_targets.py "$cfg" --no-progress \
        --proposal-file proposals/windows_train.pkl --workers 2 \
        --batch-size 64 > "$soft.log" 2>&1 ||
        { echo "failed, see $soft.log" >&2; exit 1; }
    fi
    train_run "seed $seed, T=$t: stage 2" "$run" "$cfg"
  done
done

for seed in $SEEDS; do
  echo "seed $seed: baseline $(map_of "$WORK/baseline/seed$seed/done.json")," \
    "T=0.5 (kd_staged_cached)" \
    "$(map_of "$WORK/kd_staged_cached/seed$seed/done.json")"
  for t in $TEMPS; do
    echo "  T=$t: $(last_val_map "$OUT/kd_staged_cached_t$t/seed$seed.log")"
  done
  $PY tools/analysis_tools/soft_target_stats.py \
    "$DATA/annotations/instances_train.json" "$DATA/train" \
    "$WORK/teacher_wsddn/seed$seed/soft_targets.pkl" \
    "$OUT"/soft_targets_seed"${seed}"_t*.pkl 2>/dev/null | grep '^|'
done
