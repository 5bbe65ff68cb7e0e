# Copyright (c) mmkdwsd authors. All rights reserved.
import os.path as osp

import pytest
import torch
from mmengine.runner import Runner

from mmkdwsd.engine import NonFiniteLossError
from tests.toy_runner import toy_runner_cfg


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tmp_path):
    work_dir = str(tmp_path)
    cfg = toy_runner_cfg(
        work_dir,
        max_epochs=3,
        custom_hooks=[dict(type='NonFiniteLossHook')])
    runner = Runner(**cfg)
    head = runner.model.head

    # poison the loss from the 2nd epoch on (iteration 5: 4 iters per epoch)
    original_loss = head.loss

    def poisoned(feats, data_samples, **kwargs):
        losses = original_loss(feats, data_samples, **kwargs)
        if runner.iter >= 4:
            losses['loss'] = losses['loss'] * float('nan')
        return losses

    head.loss = poisoned
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    msg = str(info.value)
    assert 'iteration 5 (epoch 2)' in msg
    assert 'loss=nan' in msg
    assert 'epoch_1.pth' in msg
    # the good checkpoint survives and holds finite weights
    ckpt = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())
    assert not osp.exists(osp.join(work_dir, 'epoch_2.pth'))


def test_class_mismatch_stops_before_the_first_iteration(tmp_path):
    from tests.toy_runner import NUM_CLASSES
    cfg = toy_runner_cfg(
        str(tmp_path), custom_hooks=[dict(type='ClassCheckHook')])
    cfg['train_dataloader'].dataset.metainfo = dict(
        classes=[str(i) for i in range(NUM_CLASSES + 1)])
    runner = Runner(**cfg)
    with pytest.raises(ValueError) as info:
        runner.train()
    assert str(info.value).startswith(
        f'the training data (ToyMultiLabelDataset) has {NUM_CLASSES + 1} '
        f'classes but the model (ImageClassifier) predicts {NUM_CLASSES}')
    assert runner.iter == 0


def test_matching_classes_train(tmp_path):
    cfg = toy_runner_cfg(
        str(tmp_path),
        max_epochs=1,
        custom_hooks=[dict(type='ClassCheckHook')])
    runner = Runner(**cfg)
    runner.train()
    assert runner.iter == 4
