#!/usr/bin/env bash
# Distillation with a transfer set of mosaics of the labelled training
# images (docs/benchmarks.md section 1, "Mosaics of the training images"):
# the paper's data (no new scene), recombined into scenes that only the
# teacher can label (mosaic_scenes.py). Makes NUM mosaics of the benchmark's
# training scenes once, then runs transfer_set_distillation.sh on them: the
# teacher of BASE_EXP's saved config (default kd_pred_cached_t1_noflip, the
# best like-for-like student) gives every scene its soft targets and the
# mosaics their pseudo-labels, and the student trains EPOCHS epochs on the
# 10,000 + NUM scenes (15 epochs of 40,000 are the benchmark's 60 of
# 10,000 steps; WORKERS processes draw the mosaics, default 2). Prints the
# student's val mAP; its row to compare with is BASE_EXP's own run of the
# same seed. A rerun skips what is done.
# UNION=1 trains the label-only control instead (no teacher): the 64 px
# student without flips (the benchmark's baseline_noflip config) on the
# same scenes and schedule, each mosaic labelled by the union of its four
# sources' image-level labels (mosaic_scenes.py --union-labels); its row to
# compare with is baseline_noflip's. ORACLE=1 trains the same control on
# the mosaics' true labels (only a synthetic set has them: the ceiling of
# what a teacher's labels could give the mosaics).
# MASK=union keeps the teacher's labels but zeroes its scores of the classes
# none of a mosaic's four sources has (it cannot show them): its soft
# targets and pseudo-labels masked by the union labels (transfer_set_
# distillation.sh's MASK_ANN); the run's name has _mask_union_train.
# VAL_EVERY=N validates every N epochs as well as after the last (the
# learning curve in the run's log; bench_ablation_lib.sh's schedule).
# CACHE_SCALE=N stores the decoded scenes at N px, the student's scale
# (64: 1.4 GiB for 120,000 scenes instead of 22.5, and no resize per
# step); the run's name ends in _cacheN.
# REUSE_FROM=ROOT hard-links the mosaics a smaller split of the same source
# and seed already drew (mosaic_scenes.py --reuse-from), e.g.
# REUSE_FROM=data/multidigits_large_mosaic70000 for a 110,000 pool; the
# teacher's soft targets of that pool's run (same OUT, teacher and seed)
# are reused too (transfer_set_distillation.sh's REUSE_TAG: here
# mosaic70000, from a root named ..._mosaicN; REUSE_TAG='' recomputes them).
# Usage: bash tools/analysis_tools/mosaic_transfer_set.sh \
#   [WORK_DIR] [NUM] [EPOCHS] [SEED] [OUT]
# e.g. ... work_dirs/benchmarks/epochs60 30000 15 0
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
WORK=${1:-work_dirs/benchmarks/epochs60}
NUM=${2:-30000}
EPOCHS=${3:-15}
SEED=${4:-0}
OUT=${5:-work_dirs/benchmarks/x_mosaic}
PY=${PY:-.venv/bin/python}
DATA=$(realpath -m "${DATA_ROOT:-data/multidigits_large}")
BIG=$(realpath -m "${BIG_ROOT:-data/multidigits_large_mosaic$NUM}")

REUSE=()
[ -z "${REUSE_FROM:-}" ] || REUSE=(--reuse-from "$REUSE_FROM")
[ -f "$BIG/annotations/instances_train.json" ] ||
  $PY tools/analysis_tools/mosaic_scenes.py "$DATA" "$BIG" --num "$NUM" \
    --workers "${WORKERS:-2}" "${REUSE[@]}"
union_ann=$BIG/annotations/union_train.json
write_union() {  # the mosaics labelled by their sources' labels
  [ -f "$union_ann" ] || $PY tools/analysis_tools/mosaic_scenes.py "$DATA" \
    "$BIG" --num "$NUM" --workers "${WORKERS:-2}" --union-labels \
    "$union_ann" | tee "$1"
}
case ${MASK:-} in
  '') ;;
  union) if [ "${UNION:-0}" = 1 ] || [ "${ORACLE:-0}" = 1 ]; then
      echo "MASK masks the teacher's labels; the UNION and ORACLE" \
        "controls have none" >&2; exit 1
    fi
    mkdir -p "$OUT"; write_union "$OUT/union_labels_mosaic$NUM.txt"
    export MASK_ANN=$union_ann ;;
  *) echo "MASK must be 'union' (or unset), got '$MASK'" >&2; exit 1 ;;
esac
if [ "${UNION:-0}" = 1 ] || [ "${ORACLE:-0}" = 1 ]; then
  . tools/analysis_tools/bench_ablation_lib.sh
  OUT=$(realpath -m "$OUT")
  mkdir -p "$OUT/configs"
  if [ "${ORACLE:-0}" = 1 ]; then
    ann=$BIG/annotations/instances_train.json
    labels=true
  else
    ann=$union_ann
    labels=union
    write_union "$OUT/union_labels_mosaic$NUM.txt"
  fi
  name=baseline_noflip_mosaic${NUM}${labels}_${EPOCHS}e_seed$SEED
  name=$name${CACHE_SCALE:+_cache$CACHE_SCALE}
  cache_scale=$(cache_scale_arg)
  cfg=$OUT/configs/$name.py
  cat > "$cfg" <<PY
_base_ = ['$(realpath configs/benchmarks/resnet18-tiny_1xb64-30e_multidigits-large-64px-noflip.py)']
# the mosaics' decoded images are the distillation run's (same json order)
train_dataloader = dict(
    num_workers=${WORKERS:-2},
    dataset=dict(cache_file='predecoded/instances_train.npy', ${cache_scale}
                 dataset=dict(data_root='$BIG/', ann_file='$ann')))
val_dataloader = dict(num_workers=${WORKERS:-2},
                      dataset=dict(data_root='$DATA/'))
test_dataloader = val_dataloader
$(schedule "$EPOCHS" 1)
randomness = dict(seed=$SEED)
PY
  train_once "$name" "$cfg" "$OUT"
  exit 0
fi
reuse_tag=  # the smaller pool's run, by its root's name (..._mosaicN)
if [[ $(basename "${REUSE_FROM:-}") =~ _mosaic([0-9]+)$ ]]; then
  reuse_tag=mosaic${BASH_REMATCH[1]}
fi
DATA_ROOT=$DATA BIG_ROOT=$BIG TAG=mosaic$NUM \
  REUSE_TAG=${REUSE_TAG-$reuse_tag} \
  BASE_EXP=${BASE_EXP:-kd_pred_cached_t1_noflip} \
  bash tools/analysis_tools/transfer_set_distillation.sh "$WORK" "$NUM" \
  "$EPOCHS" "$SEED" "$OUT"
