# Copyright (c) mmkdwsd authors. All rights reserved.
"""A tiny real training setup (mmpretrain multi-label classifier on random
images) for runner-level tests: checkpoints, resume, determinism."""
import copy

import torch
from mmengine.dataset import pseudo_collate
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, Dataset

NUM_CLASSES = 4

# `_scope_` builds the whole subtree in mmpretrain's scope, so the head's
# default `CrossEntropyLoss` (an unscoped type) resolves there.
TOY_MODEL = dict(
    type='ImageClassifier',
    _scope_='mmpretrain',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[127.5] * 3,
        std=[127.5] * 3,
        to_rgb=False),
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=8,
        base_channels=8,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=NUM_CLASSES,
        in_channels=64))


class ToyMultiLabelDataset(Dataset):
    """Random 32x32 images whose labels depend on their colour channels."""

    def __init__(self, length: int = 16, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.images = torch.randint(
            0, 256, (length, 3, 32, 32), dtype=torch.uint8, generator=gen)
        self.metainfo = dict(classes=[str(i) for i in range(NUM_CLASSES)])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> dict:
        img = self.images[idx]
        mean = img.float().mean(dim=(1, 2))
        labels = [c for c in range(3) if mean[c] > 127.5] or [3]
        return dict(
            inputs=img, data_samples=DataSample().set_gt_label(labels))


def toy_runner_cfg(work_dir: str, max_epochs: int = 2, **kwargs) -> dict:
    """Runner kwargs for a short deterministic CPU training."""
    loader = dict(
        dataset=ToyMultiLabelDataset(),
        batch_size=4,
        num_workers=0,
        collate_fn=pseudo_collate,
        shuffle=False)
    cfg = dict(
        model=copy.deepcopy(TOY_MODEL),
        work_dir=work_dir,
        train_dataloader=DataLoader(**loader),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        val_dataloader=DataLoader(**loader),
        val_cfg=dict(),
        val_evaluator=dict(type='mmpretrain.AveragePrecision'),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0, deterministic=True),
        default_scope='mmkdwsd',
        experiment_name=f'toy_{id(loader)}',
    )
    cfg.update(kwargs)
    return cfg
