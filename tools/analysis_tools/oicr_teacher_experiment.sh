#!/usr/bin/env bash
# The OICR teacher against WSDDN on MultiDigits (configs/kdwsd/README.md,
# "A refined teacher"): the main job's pipeline with --teacher-config OICR
# (reusing a finished `make demo` run's reference and baseline), then the
# main job's two student stages for seeds 1 and 2 from each teacher (OICR's,
# and the demo's WSDDN, as feature_term_ablation.sh's staged_feat7 rows).
# Prints, per teacher, its image mAP, CorLoc and det mAP@0.5 and the
# distilled students' mAP at seeds 0 (the pipelines' own) / 1 / 2. About
# 20 minutes on 2 CPU cores; a rerun skips the finished runs and resumes
# one cut short from its last checkpoint.
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
for f in "$DEMO/teacher/epoch_6.pth" "$DEMO/results.md"; do
  [ -f "$f" ] || { echo "missing $f: run make demo first" >&2; exit 1; }
done
mkdir -p "$OUT"
for stage in reference baseline; do
  [ -e "$OUT/$stage" ] || cp -r "$DEMO/$stage" "$OUT/$stage"
done
$PY tools/run_pipeline.py --work-dir "$OUT" --teacher-config "$OICR" \
  >> "$OUT/pipeline.log" 2>&1 ||
  { echo "the OICR pipeline failed, see $OUT/pipeline.log" >&2; exit 1; }
seed() {  # SEED PREFIX TEACHER_OPTIONS...: stage 1, then the main job's
  # stage 2, into $OUT/PREFIXs1_seedSEED and PREFIXs2_seedSEED
  local s=$1 p=$2
  shift 2
  local opts=("randomness.seed=$s" train_dataloader.num_workers=1 "$@")
  train_run "${p}s1_seed$s" "$OUT/${p}s1_seed$s" \
    "configs/kdwsd/kdwsd-stage1_$TAIL" "${opts[@]}"
  train_run "${p}s2_seed$s" "$OUT/${p}s2_seed$s" \
    "configs/kdwsd/kdwsd-stage2-feat_$TAIL" "${opts[@]}" \
    val_dataloader.num_workers=1 \
    "model.student.init_cfg.checkpoint=$OUT/${p}s1_seed$s/epoch_6.pth"
}
seeds() {  # PREFIX TEACHER_OPTIONS...: seeds 1 and 2 side by side; a
  # failing one stops the script once both have ended
  spawn seed 1 "$@"
  spawn seed 2 "$@"
  wait_spawned
}
seeds '' "model.teacher_cfg=$OICR" \
  "model.teacher_ckpt=$OUT/teacher/epoch_6.pth"
seeds wsddn_ "model.teacher_ckpt=$DEMO/teacher/epoch_6.pth"

row() {  # NAME RESULTS PREFIX: the teacher's figures, its students' mAP
  local teacher student
  teacher=$(awk -F'|' '/^\| teacher \(/ {gsub(/ /, "");
    print $4 " | " $9 " | " $10}' "$2")
  student=$(awk -F'|' '/^\| student, distilled/ {gsub(/ /, ""); print $4}' \
    "$2")
  printf '| %s | %s | %.1f / %.1f / %.1f |\n' "$1" "$teacher" "$student" \
    "$(last_val_map "$OUT/${3}s2_seed1.log")" \
    "$(last_val_map "$OUT/${3}s2_seed2.log")"
}
echo "| teacher | teacher mAP | CorLoc | det mAP@0.5 |" \
  "distilled student mAP, seeds 0 / 1 / 2 |"
echo '|---|---|---|---|---|'
row WSDDN "$DEMO/results.md" wsddn_
row 'OICR (3 refinement streams)' "$OUT/results.md" ''
