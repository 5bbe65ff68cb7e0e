#!/usr/bin/env bash
# Which student map the feature level pools the teacher's regions from
# (docs/design.md, "Which student map the regions are pooled from"): the main
# job's two student stages (stage 1, then stage 2 keeping the normalised
# feature term) from the demo's teacher, the regions pooled from
# backbone.layer1 (8 x 8 at 32 px) instead of the last map (4 x 4). Since the
# configs pool from backbone.layer1 themselves, the options below restate
# them (and name the same layer); LAYER=backbone.layer2 CHANNELS=32 gives the
# last map's row; RECIPE=joint trains the joint primitive (12 epochs, all
# terms) instead; RECIPE=reference the seed's 64 px reference (the same
# student network at the teacher's resolution: the upper end of the
# resolution gap). About 7 minutes per seed on 2 CPU cores.
# Usage: SEED=0 [RECIPE=joint|reference] bash tools/analysis_tools/student_layer_probe.sh
#        [WORK_DIR] [OUT]
OUT_DEFAULT=work_dirs/student_layer_probe
# shellcheck source=tools/analysis_tools/demo_ablation_lib.sh
source "$(dirname "$0")/demo_ablation_lib.sh" "$@"
SEED=${SEED:-0}
LAYER=${LAYER:-backbone.layer1}
CHANNELS=${CHANNELS:-16}
NAME=${LAYER##*.}_s$SEED
L="model.feat_distill.student_layer=$LAYER model.feat_distill.in_channels=$CHANNELS"
if [ "${RECIPE:-staged}" = reference ]; then
  train "reference_s$SEED" "$SEED" \
    configs/mlc/resnet18-tiny_1xb8-12e_multidigits-64px.py
  LOG=$OUT/reference_s$SEED.log
elif [ "${RECIPE:-staged}" = joint ]; then  # the joint primitive, 12 epochs
  # shellcheck disable=SC2086
  kd "joint_$NAME" "$SEED" "$KD/kdwsd_$TAIL" "$VAL" $L
  LOG=$OUT/joint_$NAME.log
else
  # shellcheck disable=SC2086
  kd "s1_$NAME" "$SEED" "$KD/kdwsd-stage1_$TAIL" $L
  # shellcheck disable=SC2086
  kd "s2f_$NAME" "$SEED" "$KD/kdwsd-stage2-feat_$TAIL" "$VAL" $L \
    "model.student.init_cfg.checkpoint=$OUT/s1_$NAME/epoch_6.pth"
  LOG=$OUT/s2f_$NAME.log
fi
echo "$LAYER seed $SEED ${RECIPE:-staged}: $(grep 'Epoch(val)' "$LOG" |
  tail -1 | grep -o 'mAP: [0-9.]*' | head -1)"
