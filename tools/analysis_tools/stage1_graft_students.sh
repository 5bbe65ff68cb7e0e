#!/usr/bin/env bash
# What stage 1 hands to stage 2 (docs/benchmarks.md section 1, "What stage
# 1 hands to stage 2"). Stage 1 trains only the student's stem and the
# layer it pools the teacher's regions from (PARTS); the rest of the
# student leaves stage 1 as its initialisation drew it, so a stage-1 seed
# sets both. Takes a finished `tools/benchmarks/accuracy.py` work dir whose
# stage 1 `stage1_seed_students.sh` has already trained at STAGE1_SEEDS,
# and for each ordered pair of distinct seeds (a, b) of SEED and
# STAGE1_SEEDS grafts stage-1 seed a's PARTS onto stage-1 seed b's
# checkpoint (`graft_checkpoint.py`) and trains stage 2 from it: the saved
# `kd_staged_cached_noflip` config at SEED, as stage1_seed_students.sh.
# The pairs a = b are those runs. Writes the val mAP of every pair to
# $OUT/WORK_NAME/seedSEED/grid.tsv and prints `graft_grid_report.py`'s
# table of it: rows the trained part's seed, columns the rest's, the row
# and column means, their spread and F tests against the residual (stage
# 2's own noise and the parts' interaction): which of the two a
# stage-1 seed's effect on its student comes from. About 4.5 minutes per
# pair on 2 CPU cores (6 pairs for 3 seeds); a rerun skips the finished
# runs ($OUT/WORK_NAME/seedSEED/stage2_graft_a{a}_r{b}.done); a seed
# given twice (in STAGE1_SEEDS, or equal to SEED) is refused. Defaults: SEED 1,
# STAGE1_SEEDS "21 22", OUT stage1_seeds beside the work dir (as
# stage1_seed_students.sh), PARTS the stem and `backbone.layer1`.
# Usage: [SEED=1] [STAGE1_SEEDS="21 22"] [OUT=DIR] [PARTS="..."] \
#   bash tools/analysis_tools/stage1_graft_students.sh WORK
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[ $# -eq 1 ] || { sed -n '2,24p' "$0" >&2; exit 1; }
WORK=$(realpath "$1")
SEED=${SEED:-1}
STAGE1_SEEDS=${STAGE1_SEEDS-21 22}
[ -n "${STAGE1_SEEDS// /}" ] || { echo "STAGE1_SEEDS is empty: give the" \
  "stage-1 seeds stage1_seed_students.sh trained" >&2; exit 1; }
OUT=$(realpath -m "${OUT:-$(dirname "$WORK")/stage1_seeds}")
PARTS=${PARTS:-student.backbone.conv1 student.backbone.bn1 student.backbone.layer1}
PY=${PY:-.venv/bin/python}
. tools/analysis_tools/bench_ablation_lib.sh

DIR=$OUT/$(basename "$WORK")/seed$SEED
SEEDS=$(distinct_seeds "$SEED" "$STAGE1_SEEDS")
STAGE2=$(saved_config kd_staged_cached_noflip "$SEED")
stage1_ckpt() {  # STAGE1_SEED -> its stage-1 checkpoint
  local run=$DIR/stage1_seed$1
  [ "$1" = "$SEED" ] && run=$(dirname "$(saved_config kd_stage1 "$SEED")")
  ls "$run"/epoch_*.pth 2> /dev/null | sort -V | tail -1
}
for s in $SEEDS; do  # every stage-1 and stage-2 run first: fail before training
  if [ "$s" != "$SEED" ] && [ ! -f "$DIR/stage2_seed$s.done" ]; then
    echo "missing $DIR/stage2_seed$s.done: run SEED=$SEED" \
      "STAGE1_SEEDS=\"$STAGE1_SEEDS\" OUT=$OUT bash" \
      "tools/analysis_tools/stage1_seed_students.sh $WORK first" >&2
    exit 1
  fi
  [ -n "$(stage1_ckpt "$s")" ] || { echo "no stage-1 checkpoint of seed $s" \
    "(epoch_*.pth) in $DIR/stage1_seed$s" >&2; exit 1; }
done

for a in $SEEDS; do
  for b in $SEEDS; do
    [ "$a" = "$b" ] && continue
    run=$DIR/stage2_graft_a${a}_r$b
    [ -f "$run.done" ] && continue
    $PY tools/analysis_tools/graft_checkpoint.py "$(stage1_ckpt "$b")" \
      "$(stage1_ckpt "$a")" --parts $PARTS --out "$run.pth" > /dev/null
    train_run "$(basename "$WORK")/seed$SEED/stage2_graft_a${a}_r$b" "$run" \
      "$STAGE2" randomness.seed="$SEED" "model.student.init_cfg.checkpoint=$run.pth"
  done
done

cell() {  # A B -> val mAP of stage 2 from seed A's PARTS on seed B's rest
  if [ "$1" != "$2" ]; then
    last_val_map "$DIR/stage2_graft_a$1_r$2.log"
  else
    seed_student_map "$WORK" "$DIR" "$SEED" "$1"
  fi
}
for a in $SEEDS; do  # the grid file: lines "A B mAP"
  for b in $SEEDS; do echo "$a $b $(cell "$a" "$b")"; done
done > "$DIR/grid.tsv"
$PY tools/analysis_tools/graft_grid_report.py \
  "$(basename "$WORK")=$DIR/grid.tsv"
