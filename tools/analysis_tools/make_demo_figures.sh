#!/usr/bin/env bash
# The pictures under docs/ from a finished `make demo` run (MultiDigits):
#   docs/teacher_multidigits.png  true boxes vs the teacher's top box per class
#   docs/demo_multidigits.png     tools/demo.py on one val image (student
#                                 labels + the teacher's boxes)
#   docs/ap_gain_multidigits.png  per-class AP, baseline vs distilled student
#   docs/curves_multidigits.png   the distillation losses of stages 1 and 2
# Usage: bash tools/analysis_tools/make_demo_figures.sh [WORK_DIR] [DATA_ROOT]
set -euo pipefail
WORK=${1:-work_dirs/demo}
DATA=${2:-data/multidigits_small}
PY=${PY:-.venv/bin/python}
cd "$(dirname "$0")/../.."
TEACHER_CFG=configs/wsddn/wsddn_resnet18-tiny_1xb8-6e_multidigits.py
BASE_CFG=configs/mlc/resnet18-tiny_1xb8-12e_multidigits-32px.py
TEACHER_CKPT=$(ls "$WORK"/teacher/epoch_*.pth | sort -V | tail -1)
BASE_CKPT=$(ls "$WORK"/baseline/epoch_*.pth | sort -V | tail -1)
STAGE2_CFG=configs/kdwsd/kdwsd-stage2-feat_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py
STAGE2_CKPT=$(ls "$WORK"/stage2/epoch_*.pth | sort -V | tail -1)
STUDENT_CFG=$(ls "$WORK"/export/*.py | head -1)
STUDENT_CKPT=$(ls "$WORK"/export/*.pth | head -1)
DATA_OPTS="test_dataloader.dataset.data_root=$DATA/"

$PY tools/visualize_teacher.py "$TEACHER_CFG" "$TEACHER_CKPT" \
    --out docs/teacher_multidigits.png --num-images 8 --cols 4 --upscale 2
$PY tools/demo.py "$DATA/val/val_000009.png" --thr 0.3 \
    --student-config "$STUDENT_CFG" --student-ckpt "$STUDENT_CKPT" \
    --teacher-config "$TEACHER_CFG" --teacher-ckpt "$TEACHER_CKPT" \
    --proposal-file "$DATA/proposals/ss_val.pkl" \
    --out-file docs/demo_multidigits.png
# per-class AP of the baseline and of the distilled student (the distiller's
# student weights: the exported student reproduces them exactly)
$PY tools/test.py "$BASE_CFG" "$BASE_CKPT" --work-dir "$WORK/figures/baseline" \
    --cfg-options "$DATA_OPTS" \
    "test_evaluator.out_file=$WORK/figures/ap_baseline.json"
$PY tools/test.py "$STAGE2_CFG" "$STAGE2_CKPT" \
    --work-dir "$WORK/figures/distilled" \
    --cfg-options "$DATA_OPTS" "model.teacher_ckpt=$TEACHER_CKPT" \
    "test_evaluator.out_file=$WORK/figures/ap_distilled.json"
$PY tools/analysis_tools/plot_ap_gain.py "$WORK/figures/ap_baseline.json" \
    "$WORK/figures/ap_distilled.json" --out docs/ap_gain_multidigits.png \
    --labels 'student, no distillation' 'student, distilled (KD-WSD)' \
    --title 'MultiDigits val: per-class AP of the 32 px student'
# stage 2 follows stage 1; its feature term is the normalised one (about 1,
# the official one about 500): a log axis shows both
$PY tools/analysis_tools/plot_curves.py "$WORK/stage1" "$WORK/stage2" \
    --keys distill.loss_feat student.loss_cls distill.loss_pred \
    --legend 'stage 1 (official feature loss)' \
    'stage 2 (normalised feature loss)' --sequential \
    --logy distill.loss_feat \
    --title 'KD-WSD on MultiDigits (make demo): distillation losses' \
    --out docs/curves_multidigits.png
