#!/usr/bin/env bash
# Distillation with a teacher-labelled transfer set (docs/benchmarks.md
# section 1, "What the gain is made of", More scenes): the benchmark's best
# distilled student (`kd_staged_cached_t1`: stage 1's start, then labels +
# prediction level on soft targets at t_c = t_d = 1) trained on a larger split of which only the
# benchmark's 10,000 scenes keep their labels; the teacher (trained on those
# 10,000 alone) gives the other scenes their soft targets and image-level
# pseudo-labels (pseudo_label_scenes.py). Everything else is the saved
# config of the seed's finished `kd_staged_cached_t1` run. Needs that run and
# the larger split (data_scaling_probe.sh generates it); computes the
# split's window proposals and the teacher's soft targets over it once.
# Prints the student's val mAP. A rerun skips what is done.
# Usage: bash tools/analysis_tools/transfer_set_distillation.sh \
#   [WORK_DIR] [NUM_TRAIN] [EPOCHS] [SEED] [OUT]
# e.g. ... work_dirs/benchmarks/epochs60 40000 15 0: 15 epochs of 40,000
# scenes are the steps of the benchmark's 60 epochs of 10,000.
# Environment: BASE_EXP, the accuracy.py experiment whose saved config the
# student starts from (default kd_staged_cached_t1); BIG_ROOT, the larger
# split (default data/multidigits_large_trainNUM; mosaic_transfer_set.sh
# gives its mosaics); TAG, the run's name between BASE_EXP and the epochs
# (default transferNUM). The soft targets and pseudo-labels go to OUT
# under the split's name, with BASE_EXP's teacher's experiment in it unless
# that is teacher_wsddn (e.g. soft_targets_mosaic110000_teacher_wsddn_nfref_
# seed2_tc1_td1.pkl), so that bases of different teachers share an OUT.
# CACHE_SCALE=N stores the decoded scenes at N px, the student's scale
# (PreDecodedDataset's cache_scale; the run's name ends in _cacheN): 1/16
# of the memory for 256 px scenes at 64 px, for a split whose full-size
# cache outgrows the page cache.
# MASK_ANN=FILE zeroes the teacher's scores of the classes a scene cannot
# hold, by FILE, an instances json of the split (pseudo_label_scenes.py
# --mask-ann; mosaic_transfer_set.sh's MASK=union); the masked soft targets
# and pseudo-labels, and the run's name, end in _mask_<FILE's stem>.
# REUSE_TAG=TAG reuses the soft targets the same teacher and seed gave a
# smaller split run before under TAG, for its images of the same names
# (cache_soft_targets.py --reuse-from; mosaic_transfer_set.sh's REUSE_FROM
# pool), so that only the new scenes go through the teacher (without that
# file it says so and computes them all).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
WORK=$(realpath "${1:-work_dirs/benchmarks/epochs60}")
NUM=${2:-40000}
EPOCHS=${3:-15}
SEED=${4:-0}
OUT=$(realpath -m "${5:-work_dirs/benchmarks/x_data_scaling}")
PY=${PY:-.venv/bin/python}
DATA=$(realpath -m "${DATA_ROOT:-data/multidigits_large}")
BIG=$(realpath -m "${BIG_ROOT:-data/multidigits_large_train$NUM}")
BASE_EXP=${BASE_EXP:-kd_staged_cached_t1}
TAG=${TAG:-transfer$NUM}
. tools/analysis_tools/bench_ablation_lib.sh
base=$(saved_config "$BASE_EXP" "$SEED")
[ -f "$BIG/annotations/instances_train.json" ] || { echo "missing $BIG:" \
  "run tools/analysis_tools/data_scaling_probe.sh $NUM first (or" \
  "mosaic_scenes.py for a BIG_ROOT of mosaics)" >&2; exit 1; }
mkdir -p "$OUT/configs" "$BIG/proposals"

proposals=$BIG/proposals/windows_train.pkl
[ -f "$proposals" ] || $PY tools/generate_proposals.py \
  --ann-file "$BIG/annotations/instances_train.json" --img-dir "$BIG/train" \
  --out "$proposals" --method windows --topk 500 --min-size 16 --workers 2

mask=${MASK_ANN:+_mask_$(basename "$MASK_ANN" .json)}
[ -z "${MASK_ANN:-}" ] || [ -f "$MASK_ANN" ] || { echo "MASK_ANN:" \
  "$MASK_ANN does not exist (an instances json of $BIG)" >&2; exit 1; }
name=${BASE_EXP}_${TAG}${mask}_${EPOCHS}e_seed$SEED
name=$name${CACHE_SCALE:+_cache$CACHE_SCALE}
cache_scale=$(cache_scale_arg)
# the teacher's soft targets at t_c = t_d = 1, as both bases train on;
# a teacher other than teacher_wsddn (BASE_EXP's) names its own files
teacher=$($PY -c 'import os.path as osp, sys
from mmengine.config import Config
ckpt = Config.fromfile(sys.argv[1]).model.teacher_ckpt
print(osp.basename(osp.dirname(osp.dirname(ckpt))))' "$base")
[ "$teacher" = teacher_wsddn ] && teacher='' || teacher=_$teacher
split=${TAG/transfer/train}
soft=$OUT/soft_targets_${split}${teacher}_seed${SEED}_tc1_td1.pkl
pseudo=$OUT/pseudo_${split}${teacher}${mask}_seed$SEED.json
# what the student trains on: the soft targets, masked with MASK_ANN
train_soft=$OUT/soft_targets_${split}${teacher}${mask}_seed${SEED}_tc1_td1.pkl
cfg=$OUT/configs/$name.py
cat > "$cfg" <<PY
_base_ = ['$base']
# the decoded scenes of data_scaling_probe.sh (same images, same order)
train_dataloader = dict(dataset=dict(
    cache_file='predecoded/instances_train.npy', ${cache_scale}
    dataset=dict(data_root='$BIG/', ann_file='$pseudo',
                 soft_target_file='$train_soft')))
val_dataloader = dict(dataset=dict(data_root='$DATA/'))
test_dataloader = val_dataloader
$(schedule "$EPOCHS" 1)
PY
if [ ! -f "$soft" ]; then  # over the true-label json: same scenes, same keys
  reuse=()
  if [ -n "${REUSE_TAG:-}" ]; then
    old_soft=$OUT/soft_targets_${REUSE_TAG/transfer/train}${teacher}_seed${SEED}_tc1_td1.pkl
    if [ -f "$old_soft" ]; then reuse=(--reuse-from "$old_soft"); else
      echo "REUSE_TAG=$REUSE_TAG: no $old_soft (the soft targets of a" \
        "finished run of that split); computing them all" >&2
    fi
  fi
  $PY tools/cache_soft_targets.py "$cfg" --proposal-file "$proposals" \
    --out "$soft" --workers 2 --batch-size 64 "${reuse[@]}" --cfg-options \
    "train_dataloader.dataset.dataset.ann_file=$BIG/annotations/instances_train.json"
fi
masking=()
[ -z "$mask" ] || masking=(--mask-ann "$MASK_ANN" --soft-out "$train_soft")
[ -f "$pseudo" ] && [ -f "$train_soft" ] ||
  $PY tools/analysis_tools/pseudo_label_scenes.py \
    "$BIG/annotations/instances_train.json" \
    "$DATA/annotations/instances_train.json" "$BIG/train" "$soft" \
    --out "$pseudo" "${masking[@]}" | tee "$OUT/$name.pseudo_labels.txt"
train_once "$name" "$cfg" "$OUT"
