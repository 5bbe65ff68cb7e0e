#!/usr/bin/env bash
# How much of a teacher's effect on its staged student is stage 1's own
# randomness (docs/benchmarks.md section 1, "Which stage carries the
# teacher's schedule"). Takes finished `tools/benchmarks/accuracy.py` work
# dirs of the same data and seed, each with `kd_stage1` and
# `kd_staged_cached_noflip` done, and for each work dir and each stage-1
# seed of STAGE1_SEEDS trains
#   stage 1 again: its saved `kd_stage1` config at `randomness.seed` = the
#     stage-1 seed (the student's and the regressor's initialisation, the
#     data order, the flips and the sampled regions);
#   stage 2 from it: its saved `kd_staged_cached_noflip` config (its own
#     teacher's soft targets) at the work dirs' seed, the new stage-1
#     checkpoint as the student's start.
# Prints each work dir's val mAP per stage-1 seed (the work dirs' seed
# itself is the accuracy.py run), its mean and standard deviation, and each
# work dir's per-seed difference from the first. About 9 minutes per
# stage-1 seed and work dir on 2 CPU cores; a rerun skips the finished
# runs ($OUT/WORK_NAME/seedSEED/stage{1,2}_seedS.done); a seed given twice
# (in STAGE1_SEEDS, or equal to SEED) is refused. Defaults: SEED 1,
# STAGE1_SEEDS "21 22", OUT stage1_seeds beside the first work dir.
# Usage: [SEED=1] [STAGE1_SEEDS="21 22"] [OUT=DIR] \
#   bash tools/analysis_tools/stage1_seed_students.sh WORK [WORK ...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ $# -ge 1 ] || { sed -n '2,22p' "$0" >&2; exit 1; }
WORKS=()
for w in "$@"; do WORKS+=("$(realpath "$w")"); done
SEED=${SEED:-1}
STAGE1_SEEDS=${STAGE1_SEEDS-21 22}
OUT=$(realpath -m "${OUT:-$(dirname "${WORKS[0]}")/stage1_seeds}")
PY=${PY:-.venv/bin/python}
. tools/analysis_tools/bench_ablation_lib.sh
SEEDS=$(distinct_seeds "$SEED" "$STAGE1_SEEDS")

names=$(for w in "${WORKS[@]}"; do basename "$w"; done | sort | uniq -d)
[ -z "$names" ] || { echo "two work dirs named $names: their runs would" \
  "share \$OUT/$names; give work dirs of distinct names" >&2; exit 1; }
for WORK in "${WORKS[@]}"; do  # every saved config first: fail before training
  saved_config kd_stage1 "$SEED" > /dev/null
  saved_config kd_staged_cached_noflip "$SEED" > /dev/null
done

for s in $STAGE1_SEEDS; do
  for WORK in "${WORKS[@]}"; do
    dir=$(basename "$WORK")/seed$SEED
    train_run "$dir/stage1_seed$s" "$OUT/$dir/stage1_seed$s" \
      "$(saved_config kd_stage1 "$SEED")" randomness.seed="$s"
    ckpt=$(ls "$OUT/$dir/stage1_seed$s"/epoch_*.pth | sort -V | tail -1)
    train_run "$dir/stage2_seed$s" "$OUT/$dir/stage2_seed$s" \
      "$(saved_config kd_staged_cached_noflip "$SEED")" \
      randomness.seed="$SEED" "model.student.init_cfg.checkpoint=$ckpt"
  done
done

maps_of() {  # WORK -> its val mAP at each seed of SEEDS
  local s
  for s in $SEEDS; do
    seed_student_map "$1" "$OUT/$(basename "$1")/seed$SEED" "$SEED" "$s"
  done
}
echo "| work dir | stage-1 seeds $SEEDS: val mAP | mean ± sd |" \
  "difference from $(basename "${WORKS[0]}") | mean ± sd |"
echo "|---|---|---|---|---|"
first=$(maps_of "${WORKS[0]}")
for WORK in "${WORKS[@]}"; do
  maps=$(maps_of "$WORK")
  diffs=$(paste -d' ' <(echo "$maps") <(echo "$first") |
    awk '{print $1 - $2}')
  echo "| $(basename "$WORK") | $(printf '%.1f ' $maps)|" \
    "$(echo "$maps" | mean_sd) | $(printf '%.1f ' $diffs)| $(echo "$diffs" | mean_sd) |"
done
