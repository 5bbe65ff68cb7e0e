#!/usr/bin/env bash
# Variations of the staged KD-WSD recipe on MultiDigits (the table
# "Variations of the staged recipe" in docs/design.md), from a finished
# `make demo` run (its teacher, stage 1 and cached soft targets: run
# `python tools/run_pipeline.py --cached-soft-targets` once first).
# Each variation trains the 32 px student for the same 12 epochs (seed 0,
# 1 thread) and prints its val mAP. About 25 minutes on 2 CPU cores; a
# rerun skips the finished runs ($OUT/NAME.done).
# Usage: bash tools/analysis_tools/staged_recipe_ablation.sh [WORK_DIR] [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=$(realpath "${1:-work_dirs/demo}")
OUT=$(realpath -m "${2:-work_dirs/recipe_ablation}")
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
KD=configs/kdwsd
TAIL=wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py
for f in "$WORK/teacher/epoch_6.pth" "$WORK/stage1/epoch_6.pth" \
    "$WORK/soft_targets/train.pkl"; do
  [ -f "$f" ] || { echo "missing $f: run make demo, then" \
    "tools/run_pipeline.py --cached-soft-targets" >&2; exit 1; }
done
mkdir -p "$OUT/configs"
COMMON=(randomness.seed=0 train_dataloader.num_workers=1
        "model.teacher_ckpt=$WORK/teacher/epoch_6.pth")
VAL=val_dataloader.num_workers=1  # stage 1 configs have no validation
SOFT="train_dataloader.dataset.soft_target_file=$WORK/soft_targets/train.pkl"

# child config: NAME BASE BODY (written under $OUT/configs)
child() {
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
train() {  # NAME CONFIG OPTIONS... -> $OUT/NAME (finished runs skipped)
  [ -f "$OUT/$1.done" ] && return
  $PY tools/train.py "$2" --work-dir "$OUT/$1" \
    --cfg-options "${COMMON[@]}" "${@:3}" > "$OUT/$1.log" 2>&1 ||
    { echo "$1 failed, see $OUT/$1.log" >&2; exit 1; }
  touch "$OUT/$1.done"
}
report() {  # LABEL NAME
  echo "$1: $(grep 'Epoch(val)' "$OUT/$2.log" | tail -1 |
    grep -o 'student/mAP: [0-9.]*')"
}
stage2() {  # NAME STAGE1_CKPT EPOCHS [BODY]
  local cfg
  cfg=$(child "$1" "$KD/kdwsd-stage2-cached_$TAIL" "$(epochs "$3")
${4:-}")
  train "$1" "$cfg" "$VAL" "$SOFT" "model.student.init_cfg.checkpoint=$2"
}

stage2 s2_reference "$WORK/stage1/epoch_6.pth" 6
report "6 + 6 (the shipped recipe)" s2_reference
# stage 2 keeps the feature term (teacher online)
cfg=$(child s2_feat "$KD/kdwsd_$TAIL" "$(epochs 6)
model = dict(student=dict(init_cfg=dict(type='Pretrained',
    checkpoint='$WORK/stage1/epoch_6.pth', prefix='student.')))")
train s2_feat "$cfg" "$VAL"
report "stage 2 keeps the feature term" s2_feat
stage2 s2_kdw0 "$WORK/stage1/epoch_6.pth" 6 \
  "model = dict(pred_distill=dict(loss=dict(loss_weight=0.0)))"
report "stage 2 labels only (lambda 0)" s2_kdw0
stage2 s2_kdw3 "$WORK/stage1/epoch_6.pth" 6 \
  "model = dict(pred_distill=dict(loss=dict(loss_weight=3.0)))"
report "stage 2 lambda 3" s2_kdw3
for m in 0.1 0.3; do
  stage2 "s2_bb$m" "$WORK/stage1/epoch_6.pth" 6 "optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'student.backbone': dict(lr_mult=$m)}))"
  report "stage 2 backbone lr x$m" "s2_bb$m"
done
# stage 1 on the teacher's top-4 regions per present class
cfg=$(child s1_topk "$KD/kdwsd-stage1_$TAIL" \
  "model = dict(feat_distill=dict(regions='topk', topk=4, num_sampled=None))")
train s1_topk "$cfg"
stage2 s2_topk "$OUT/s1_topk/epoch_6.pth" 6
report "stage 1 top-4 regions" s2_topk
# other splits of the 12 epochs
for e in 9 4 3; do
  cfg=$(child "s1_${e}e" "$KD/kdwsd-stage1_$TAIL" "$(epochs "$e")")
  train "s1_${e}e" "$cfg"
  stage2 "s2_after_${e}e" "$OUT/s1_${e}e/epoch_$e.pth" $((12 - e))
  report "$e + $((12 - e)) epochs" "s2_after_${e}e"
done
