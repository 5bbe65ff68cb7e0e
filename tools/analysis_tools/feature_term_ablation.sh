#!/usr/bin/env bash
# Balancing the feature-level term against the label loss on MultiDigits (the
# table "Balancing the feature term" in docs/design.md), from a finished
# `make demo` run (its teacher and stage 1, and the cached soft targets of
# `tools/run_pipeline.py --cached-soft-targets`). Every row trains the 32 px
# student for the same 12 epochs (1 thread; seeds 0, 1 and 2 for the
# baseline and the three staged recipes, 0 and 1 for the balanced joint stage
# and the official loss at weight 1, 0 for the rest) and prints its val mAP.
# Two runs at a time; about 60 minutes on 2 CPU cores; a rerun skips the
# finished runs and resumes one cut short from its last checkpoint.
# Usage: bash tools/analysis_tools/feature_term_ablation.sh [WORK_DIR] [OUT]
OUT_DEFAULT=work_dirs/feature_term_ablation
source "$(dirname "$0")/demo_ablation_lib.sh"

map() {  # NAME -> the last student/mAP of its log
  grep 'Epoch(val)' "$OUT/$1.log" | tail -1 | grep -o 'mAP: [0-9.]*' |
    head -1 | cut -d' ' -f2
}
feat() {  # WEIGHT NORMALIZE -> a model body setting the feature loss
  echo "model = dict(feat_distill=dict(loss=dict(loss_weight=$1,
    normalize=$2)))"
}
stage1() {  # SEED -> stage 1 checkpoint (seed 0: the demo's own)
  if [ "$1" = 0 ]; then echo "$WORK/stage1/epoch_6.pth"; return; fi
  kd "s1_seed$1" "$1" "$KD/kdwsd-stage1_$TAIL" >&2
  echo "$OUT/s1_seed$1/epoch_6.pth"
}

run_seed() {  # SEED: every row of one seed, in sequence
  local s=$1 s1
  train "baseline_seed$s" "$s" configs/mlc/resnet18-tiny_1xb8-12e_multidigits-32px.py
  s1=$(stage1 "$s")
  kd "staged_seed$s" "$s" "$KD/kdwsd-stage2-cached_$TAIL" "$VAL" "$SOFT" \
    "model.student.init_cfg.checkpoint=$s1"
  kd "staged_feat7_seed$s" "$s" "$KD/kdwsd-stage2-feat_$TAIL" "$VAL" \
    "model.student.init_cfg.checkpoint=$s1"
  [ "$s" = 2 ] || kd "joint_norm7_seed$s" "$s" "$KD/kdwsd_$TAIL" "$VAL"
}
spawn run_seed 0; spawn run_seed 1; wait_spawned
run_seed 2  # the main comparison only (baseline, staged, staged_feat7)
# seed-0-only rows: the raw (official) loss at other weights, weight 2
for w in 1.0 0.1 0.03 0.01 0.001; do
  spawn kd "joint_raw${w}_seed0" 0 "$(child "joint_raw$w" "$KD/kdwsd_$TAIL" \
    "$(feat "$w" False)")" "$VAL"
  case $w in 0.1 | 0.01 | 0.001) wait_spawned ;; esac
done
S1=$(stage1 0)
spawn kd staged_feat2_seed0 0 "$(child staged_feat2 \
  "$KD/kdwsd-stage2-feat_$TAIL" "$(feat 2.0 True)")" "$VAL" \
  "model.student.init_cfg.checkpoint=$S1"
# stage 2 also starts its projector from stage 1's
spawn kd staged_feat7_proj_seed0 0 "$(child staged_feat7_proj \
  "$KD/kdwsd-stage2-feat_$TAIL" "model = dict(feat_distill=dict(
    init_cfg=dict(type='Pretrained', checkpoint='$S1',
                  prefix='region_distiller.')))")" "$VAL" \
  "model.student.init_cfg.checkpoint=$S1"
short_stage1() {  # 4 + 8 epochs instead of 6 + 6
  kd s1_4e_seed0 0 "$(child s1_4e "$KD/kdwsd-stage1_$TAIL" "$(epochs 4)")"
  kd staged_feat7_4p8_seed0 0 "$(child staged_feat7_4p8 \
    "$KD/kdwsd-stage2-feat_$TAIL" "$(epochs 8)")" "$VAL" \
    "model.student.init_cfg.checkpoint=$OUT/s1_4e_seed0/epoch_4.pth"
}
spawn short_stage1
wait_spawned
# the official loss at weight 1 kept in stage 2 (seeds 0, 1, 2), and the
# joint stage's at seed 1 too
raw1=$(child staged_raw1 "$KD/kdwsd-stage2-feat_$TAIL" "$(feat 1.0 False)")
staged_raw1() {  # SEED
  kd "staged_raw1_seed$1" "$1" "$raw1" "$VAL" \
    "model.student.init_cfg.checkpoint=$(stage1 "$1")"
}
spawn staged_raw1 0; spawn staged_raw1 1; wait_spawned
spawn staged_raw1 2
spawn kd joint_raw1.0_seed1 1 "$OUT/configs/joint_raw1.0.py" "$VAL"
wait_spawned

row() {  # LABEL NAME [seeds]
  local vals="" n
  for n in ${3:-0 1}; do vals="$vals $(map "${2}_seed$n")"; done
  echo "$1:$vals"
}
row "baseline (no distillation)" baseline "0 1 2"
row "staged 6 + 6, stage 2 labels + prediction level (cached)" staged "0 1 2"
row "staged 6 + 6, stage 2 also feature level (normalised, weight 7)" staged_feat7 "0 1 2"
row "staged, stage 2 feature weight 2 (normalised)" staged_feat2 0
row "staged, stage 2 projector from stage 1" staged_feat7_proj 0
row "staged 4 + 8, stage 2 keeps the feature level" staged_feat7_4p8 0
row "staged 6 + 6, stage 2 keeps the official feature loss, weight 1" \
  staged_raw1 "0 1 2"
row "joint 12 epochs, feature level normalised, weight 7" joint_norm7
for w in 1.0 0.1 0.03 0.01 0.001; do
  seeds=0
  [ "$w" = 1.0 ] && seeds="0 1"
  row "joint 12 epochs, official loss, weight $w" "joint_raw$w" "$seeds"
done
