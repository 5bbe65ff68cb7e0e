# Copyright (c) mmkdwsd authors. All rights reserved.
import pytest
import torch
from mmengine.config import ConfigDict

from mmkdwsd.models.distillers import (freeze, load_teacher_weights,
                                       teacher_model_cfg)
from mmkdwsd.registry import MODELS
from . import toy_models  # noqa: F401 (registers ToyWSDDN)


def build_teacher(**kwargs):
    return MODELS.build(dict(type='ToyWSDDN', **kwargs))


def test_teacher_model_cfg_forms(tmp_path):
    model = dict(type='ToyWSDDN', channels=4)
    path = tmp_path / 'teacher.py'
    path.write_text("model = dict(type='ToyWSDDN', channels=4)\n"
                    'train_cfg = dict(max_epochs=1)\n')
    for form in (model, dict(model=model), str(path)):
        cfg = teacher_model_cfg(form)
        assert isinstance(cfg, ConfigDict)
        assert cfg == model


def test_load_teacher_weights_ddp_prefix(tmp_path):
    torch.manual_seed(0)
    source = build_teacher()
    # a checkpoint saved from a DistributedDataParallel-wrapped model
    state = {f'module.{k}': v for k, v in source.state_dict().items()}
    path = tmp_path / 'ddp.pth'
    torch.save(dict(state_dict=state), path)
    torch.manual_seed(1)
    teacher = build_teacher()
    assert not torch.equal(teacher.fc7[1].weight, source.fc7[1].weight)
    load_teacher_weights(teacher, str(path), 'the toy config')
    for key, value in source.state_dict().items():
        assert torch.equal(teacher.state_dict()[key], value), key


def test_load_teacher_weights_shape_mismatch(tmp_path):
    path = tmp_path / 'wide.pth'
    torch.save(dict(state_dict=build_teacher(channels=6).state_dict()), path)
    teacher = build_teacher()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    with pytest.raises(RuntimeError,
                       match=r'(?s)wide\.pth" does not fit the teacher built '
                       r'from the toy config.*missing keys \(0\).*'
                       r'shape mismatches \(9\): \[.*backbone\.0\.weight: '
                       r'checkpoint \(6, 3, 3, 3\) vs model \(8, 3, 3, 3\)'):
        load_teacher_weights(teacher, str(path), 'the toy config')
    # nothing loaded on the failure
    for key, value in teacher.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_freeze():
    teacher = build_teacher()
    teacher.train()
    freeze(teacher)
    assert not teacher.training
    assert all(not p.requires_grad for p in teacher.parameters())
