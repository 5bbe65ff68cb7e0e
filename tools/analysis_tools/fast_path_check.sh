#!/usr/bin/env bash
# The fast data path trains the same model as the per-image pipeline: the
# benchmark baseline config (PreDecodedDataset + PreDecodedDataPreprocessor,
# 64 px) and the same config with the per-image pipeline (LoadImageSafe,
# RandomFlip, Resize, PackInputs), both shrunk to 4 epochs, seed
# 0, on a large-preset MultiDigits root (make one with `python
# tools/benchmarks/accuracy.py --prepare-only --data-root DATA --num-train
# 2000 --num-val 100`). Prints each run's training losses and val mAP
# (docs/design.md, "Fast data path"). About 1 minute on 2 CPU cores.
# Usage: bash tools/analysis_tools/fast_path_check.sh DATA [OUT]
set -euo pipefail
DATA=$(realpath "${1:?usage: fast_path_check.sh DATA [OUT]}")
OUT=$(realpath -m "${2:-work_dirs/fast_path_check}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$OUT"
cat > "$OUT/fast.py" <<PY
_base_ = ['$ROOT/configs/benchmarks/resnet18-tiny_1xb64-30e_multidigits-large-64px.py']
max_epochs = 4
train_dataloader = dict(num_workers=2, pin_memory=False,
                        dataset=dict(dataset=dict(data_root='$DATA/')))
val_dataloader = dict(num_workers=2, dataset=dict(data_root='$DATA/'))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         T_max=max_epochs, eta_min=1e-5, convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_epochs))
PY
cat > "$OUT/per_image.py" <<PY
_base_ = ['./fast.py']
model = dict(data_preprocessor=dict(
    _delete_=True, type='mmpretrain.ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True))
train_pipeline = [
    dict(type='LoadImageSafe'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=(64, 64), keep_ratio=False),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(
    collate_fn=dict(type='mmkdwsd.stack_collate'),
    dataset=dict(_delete_=True, type='CocoMultiLabelDataset',
                 data_root='$DATA/',
                 ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
PY
cd "$ROOT"
for run in fast per_image; do
  python tools/train.py "$OUT/$run.py" --work-dir "$OUT/$run" \
    --cfg-options randomness.seed=0 > "$OUT/$run.log" 2>&1
  echo "$run: losses $(grep 'Epoch(train)' "$OUT/$run.log" |
    grep -o 'loss: [0-9.]*' | cut -d' ' -f2 | tr '\n' ' ')"
  echo "$run: $(grep 'Epoch(val)' "$OUT/$run.log" | grep -o 'mAP: [0-9.]*')"
done
