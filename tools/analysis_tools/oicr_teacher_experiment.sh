#!/usr/bin/env bash
# The OICR teacher against WSDDN on MultiDigits (configs/kdwsd/README.md,
# "Results"): the main job's pipeline with --teacher-config OICR (reusing a
# finished `make demo` run's reference and baseline), then the main job's
# two student stages for seeds 1 and 2 from that teacher, as
# feature_term_ablation.sh does for WSDDN. Prints the teacher's CorLoc and
# each seed's student mAP. About 15 minutes on 2 CPU cores; a rerun skips
# the finished runs and resumes one cut short from its last checkpoint.
# Usage: bash tools/analysis_tools/oicr_teacher_experiment.sh [DEMO] [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/analysis_tools/bench_ablation_lib.sh
DEMO=$(realpath "${1:-work_dirs/demo}")
OUT=$(realpath -m "${2:-work_dirs/demo_oicr}")
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
OICR=configs/wsddn/oicr_resnet18-tiny_1xb8-6e_multidigits.py
TAIL=wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py
mkdir -p "$OUT"
for stage in reference baseline; do
  [ -e "$OUT/$stage" ] || cp -r "$DEMO/$stage" "$OUT/$stage"
done
$PY tools/run_pipeline.py --work-dir "$OUT" --teacher-config "$OICR" \
  > "$OUT/pipeline.log" 2>&1
TEACHER=$OUT/teacher/epoch_6.pth
train() {  # NAME SEED CONFIG OPTIONS...: bench_ablation_lib's train_run
  train_run "$1" "$OUT/$1" "$3" "randomness.seed=$2" \
    train_dataloader.num_workers=1 "model.teacher_cfg=$OICR" \
    "model.teacher_ckpt=$TEACHER" "${@:4}"
}
seed() {  # SEED: stage 1, then the main job's stage 2
  train "s1_seed$1" "$1" "configs/kdwsd/kdwsd-stage1_$TAIL"
  train "s2_seed$1" "$1" "configs/kdwsd/kdwsd-stage2-feat_$TAIL" \
    val_dataloader.num_workers=1 \
    "model.student.init_cfg.checkpoint=$OUT/s1_seed$1/epoch_6.pth"
}
seed 1 & seed 2 & wait
grep -A6 '^| model' "$OUT/results.md"
for s in 1 2; do
  echo "seed $s: $(grep 'Epoch(val)' "$OUT/s2_seed$s.log" | tail -1 |
    grep -o 'student/mAP: [0-9.]*')"
done
