#!/usr/bin/env bash
# How many regions the feature level needs (docs/design.md, "Sampling
# fewer regions"): the main job's two student stages (stage 1, then stage 2
# keeping the feature level) with `num_sampled` 16 instead of all of the
# about 43 selective-search regions per image, seeds 0, 1 and 2 (SEEDS), from a
# finished `make demo` run (its teacher; run `tools/run_pipeline.py
# --cached-soft-targets` once first). The paper setting's configs sample
# 128 of 500; fewer would meet the step-time target (docs/benchmarks.md).
# Prints each seed's student mAP. About 15 minutes on 2 CPU cores (the
# seeds run side by side); a rerun skips the finished runs.
# Usage: bash tools/analysis_tools/sampled_regions_ablation.sh [WORK_DIR] [OUT]
OUT_DEFAULT=work_dirs/sampled_regions_ablation
source "$(dirname "$0")/demo_ablation_lib.sh"

SAMPLED=${SAMPLED:-16}
run_seed() {  # SEED: stage 1 and stage 2 with SAMPLED regions per image
  local s=$1
  kd "s1_n${SAMPLED}_seed$s" "$s" "$KD/kdwsd-stage1_$TAIL" \
    "model.feat_distill.num_sampled=$SAMPLED"
  kd "s2_n${SAMPLED}_seed$s" "$s" "$KD/kdwsd-stage2-feat_$TAIL" "$VAL" \
    "model.feat_distill.num_sampled=$SAMPLED" \
    "model.student.init_cfg.checkpoint=$OUT/s1_n${SAMPLED}_seed$s/epoch_6.pth"
}
SEEDS=${SEEDS:-0 1 2}
for s in $SEEDS; do spawn run_seed "$s"; done
wait_spawned
for s in $SEEDS; do
  echo "num_sampled=$SAMPLED seed $s: $(grep 'Epoch(val)' \
    "$OUT/s2_n${SAMPLED}_seed$s.log" | tail -1 | grep -o 'student/mAP: [0-9.]*')"
done
