# Shared by the ablation scripts that start from a finished `make demo` run
# (staged_recipe_ablation.sh, feature_term_ablation.sh,
# schedule_teacher_ablation.sh, sampled_regions_ablation.sh,
# student_layer_probe.sh); sourced, not run.
# Before sourcing, set OUT_DEFAULT; the caller's arguments are [WORK_DIR]
# [OUT]. Leaves the shell in the repository root with WORK, OUT, PY, KD,
# TAIL, TEACHER, VAL and SOFT set and the helpers below (and
# bench_ablation_lib.sh's) defined.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tools/analysis_tools/bench_ablation_lib.sh
WORK=$(realpath "${1:-work_dirs/demo}")
OUT=$(realpath -m "${2:-$OUT_DEFAULT}")
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
KD=configs/kdwsd
TAIL=wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py
TEACHER=$WORK/teacher/epoch_6.pth
for f in "$TEACHER" "$WORK/stage1/epoch_6.pth" "$WORK/soft_targets/train.pkl"
do
  [ -f "$f" ] || { echo "missing $f: run make demo, then" \
    "tools/run_pipeline.py --cached-soft-targets" >&2; exit 1; }
done
mkdir -p "$OUT/configs"
VAL=val_dataloader.num_workers=1  # stage 1 configs have no validation
SOFT="train_dataloader.dataset.soft_target_file=$WORK/soft_targets/train.pkl"

child() {  # NAME BASE BODY -> config path (written under $OUT/configs)
  printf "_base_ = ['%s']\n%s\n" "$(realpath "$2")" "$3" \
    > "$OUT/configs/$1.py"
  echo "$OUT/configs/$1.py"
}
epochs() {  # a schedule of N epochs (cosine, as the shipped stages)
  printf "max_epochs = %s\ntrain_cfg = dict(max_epochs=max_epochs, %s)\n%s" \
    "$1" "val_interval=max_epochs" \
    "param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True,
    begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5,
    convert_to_iter_based=True)]"
}
train() {  # NAME SEED CONFIG OPTIONS... -> $OUT/NAME: bench_ablation_lib's
  # train_run (finished runs skipped, a run cut short resumed)
  train_run "$1" "$OUT/$1" "$3" "randomness.seed=$2" \
    train_dataloader.num_workers=1 "${@:4}"
}
kd() {  # like train, with the demo's teacher
  train "$@" "model.teacher_ckpt=$TEACHER"
}
