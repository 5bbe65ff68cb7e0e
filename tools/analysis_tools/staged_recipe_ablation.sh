#!/usr/bin/env bash
# Variations of the staged KD-WSD recipe on MultiDigits (the table
# "Variations of the staged recipe" in docs/design.md), from a finished
# `make demo` run (its teacher, stage 1 and cached soft targets: run
# `python tools/run_pipeline.py --cached-soft-targets` once first).
# Each variation trains the 32 px student for the same 12 epochs (seed 0,
# 1 thread) and prints its val mAP. About 25 minutes on 2 CPU cores; a
# rerun skips the finished runs ($OUT/NAME.done) and resumes one cut short
# from its last checkpoint.
# Usage: bash tools/analysis_tools/staged_recipe_ablation.sh [WORK_DIR] [OUT]
OUT_DEFAULT=work_dirs/recipe_ablation
source "$(dirname "$0")/demo_ablation_lib.sh"

report() {  # LABEL NAME
  echo "$1: $(grep 'Epoch(val)' "$OUT/$2.log" | tail -1 |
    grep -o 'student/mAP: [0-9.]*')"
}
stage2() {  # NAME STAGE1_CKPT EPOCHS [BODY]
  local cfg
  cfg=$(child "$1" "$KD/kdwsd-stage2-cached_$TAIL" "$(epochs "$3")
${4:-}")
  kd "$1" 0 "$cfg" "$VAL" "$SOFT" "model.student.init_cfg.checkpoint=$2"
}

stage2 s2_reference "$WORK/stage1/epoch_6.pth" 6
report "6 + 6 (the shipped recipe)" s2_reference
# stage 2 keeps the feature term at the official scale, weight 1 (teacher
# online; feature_term_ablation.sh balances it)
cfg=$(child s2_feat "$KD/kdwsd-stage2-feat_$TAIL" \
  "model = dict(feat_distill=dict(loss=dict(loss_weight=1.0,
    normalize=False)))")
kd s2_feat 0 "$cfg" "$VAL" "model.student.init_cfg.checkpoint=$WORK/stage1/epoch_6.pth"
report "stage 2 keeps the feature term (official loss)" s2_feat
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
kd s1_topk 0 "$cfg"
stage2 s2_topk "$OUT/s1_topk/epoch_6.pth" 6
report "stage 1 top-4 regions" s2_topk
# other splits of the 12 epochs
for e in 9 4 3; do
  cfg=$(child "s1_${e}e" "$KD/kdwsd-stage1_$TAIL" "$(epochs "$e")")
  kd "s1_${e}e" 0 "$cfg"
  stage2 "s2_after_${e}e" "$OUT/s1_${e}e/epoch_$e.pth" $((12 - e))
  report "$e + $((12 - e)) epochs" "s2_after_${e}e"
done
