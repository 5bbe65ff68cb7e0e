# Copyright (c) mmkdwsd authors. All rights reserved.
"""Checkpoints written by an MMEngine runner load back with ``load_from`` and
``resume`` (needs the torch >= 2.6 loading fix of mmkdwsd.compat)."""
import os.path as osp

import torch
from mmengine.runner import Runner

from tests.toy_runner import toy_runner_cfg


def _weights(runner: Runner) -> dict:
    return {
        k: v.detach().clone()
        for k, v in runner.model.state_dict().items()
    }


def test_resume_continues_to_identical_weights(tmp_path):
    straight = Runner(**toy_runner_cfg(str(tmp_path / 'a'), max_epochs=2))
    straight.train()

    first = Runner(**toy_runner_cfg(str(tmp_path / 'b'), max_epochs=1))
    first.train()
    resumed = Runner(
        **toy_runner_cfg(str(tmp_path / 'b'), max_epochs=2, resume=True))
    resumed.train()

    assert resumed.epoch == 2
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_load_from_restores_weights(tmp_path):
    trained = Runner(**toy_runner_cfg(str(tmp_path / 'a'), max_epochs=1))
    trained.train()
    ckpt = osp.join(tmp_path, 'a', 'epoch_1.pth')

    fresh = Runner(
        **toy_runner_cfg(str(tmp_path / 'c'), max_epochs=1, load_from=ckpt))
    fresh.load_or_resume()
    a, b = _weights(trained), _weights(fresh)
    for key in a:
        assert torch.equal(a[key], b[key]), key
