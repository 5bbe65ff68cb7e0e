#!/usr/bin/env bash
# Is the 64 px benchmark student short of data or of capacity?
# (docs/benchmarks.md section 1, "What the gain is made of", More scenes).
# Generates the large MultiDigits preset again with more training scenes
# (same seed: every scene is drawn from its own generator seeded by (seed, split, index), so
# the first 10,000 are the benchmark's own and the val split is the same;
# checked below), then trains the benchmark baseline
# (`resnet18-tiny_1xb64-30e_multidigits-large-64px.py`, labels only) on
# them for each EPOCHS, its usual warm-up and cosine schedule, and
# evaluates on the benchmark's val split. Prints each run's val mAP.
# A rerun skips the finished runs ($OUT/NAME.done).
# Usage: bash tools/analysis_tools/data_scaling_probe.sh \
#   [NUM_TRAIN] [EPOCHS] [SEED] [OUT]
# Environment: DATA_ROOT (the benchmark's data, default
# data/multidigits_large), BIG_ROOT (where the larger set goes, default
# data/multidigits_large_trainNUM_TRAIN), NUM_VAL (its val scenes, default
# the preset's: set it to DATA_ROOT's when that was generated with another
# number), WORKERS (generator processes, default 2).
# e.g. ... 40000 "15 60" 0: 15 epochs of 40,000 scenes are the steps of the
# baseline's 60 epochs of 10,000.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
NUM=${1:-40000}
EPOCHS=${2:-15}
SEED=${3:-0}
OUT=$(realpath -m "${4:-work_dirs/benchmarks/x_data_scaling}")
PY=${PY:-.venv/bin/python}
DATA=$(realpath -m "${DATA_ROOT:-data/multidigits_large}")
BIG=$(realpath -m "${BIG_ROOT:-data/multidigits_large_train$NUM}")
. tools/analysis_tools/bench_ablation_lib.sh
mkdir -p "$OUT/configs"

if [ ! -f "$BIG/annotations/instances_train.json" ]; then
  $PY tools/generate_multidigits.py --preset large --seed 0 \
    --num-train "$NUM" ${NUM_VAL:+--num-val "$NUM_VAL"} --out-dir "$BIG" \
    --workers "${WORKERS:-2}"
fi
$PY - "$DATA" "$BIG" <<'PY'
import json
import sys

small, big = sys.argv[1:]
for split in ('train', 'val'):
    a = json.load(open(f'{small}/annotations/instances_{split}.json'))
    b = json.load(open(f'{big}/annotations/instances_{split}.json'))
    n = len(a['images'])
    ids = {im['id'] for im in a['images']}
    same = (a['images'] == b['images'][:n] and a['annotations'] == [
        ann for ann in b['annotations'] if ann['image_id'] in ids])
    if not same:
        sys.exit(f'{big}: its first {n} {split} scenes differ from '
                 f'{small}\'s; generate both with the same seed and preset')
    print(f'{split}: the first {n} of {len(b["images"])} scenes are '
          f'{small}\'s')
PY

for e in $EPOCHS; do
  name=baseline_train${NUM}_${e}e_seed$SEED
  cfg=$OUT/configs/$name.py
  cat > "$cfg" <<PY
_base_ = ['$(realpath configs/benchmarks/resnet18-tiny_1xb64-30e_multidigits-large-64px.py)']
train_dataloader = dict(
    num_workers=2, dataset=dict(dataset=dict(data_root='$BIG/')))
val_dataloader = dict(num_workers=2, dataset=dict(data_root='$DATA/'))
test_dataloader = val_dataloader
$(schedule "$e" 1)
randomness = dict(seed=$SEED)
PY
  train_run "$name" "$OUT/$name" "$cfg"
done
for e in $EPOCHS; do
  name=baseline_train${NUM}_${e}e_seed$SEED
  echo "$name: val mAP $(last_val_map "$OUT/$name.log")"
done
