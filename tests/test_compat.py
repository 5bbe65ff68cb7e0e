# Copyright (c) mmkdwsd authors. All rights reserved.
"""Each compatibility fix, with a check that the problem it fixes is real."""
import inspect
import os
import os.path as osp
import pickle
import stat

import numpy as np
import pytest
import torch
from mmengine.runner import CheckpointLoader, Runner

from mmkdwsd.compat import (load_trusted_local_checkpoint,
                            torchscript_onnx_exporter)
from tests.toy_runner import toy_runner_cfg


@pytest.fixture(scope='module')
def runner_ckpt(tmp_path_factory) -> str:
    work_dir = str(tmp_path_factory.mktemp('compat'))
    runner = Runner(**toy_runner_cfg(work_dir, max_epochs=1))
    runner.train()
    return osp.join(work_dir, 'epoch_1.pth')


def test_runner_checkpoint_needs_full_unpickling(runner_ckpt):
    # The problem: torch >= 2.6 refuses MMEngine 0.10.7's own checkpoints
    # (a HistoryBuffer in message_hub), open-mmlab/mmengine#1621.
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(runner_ckpt, map_location='cpu')


def test_local_checkpoints_load_through_mmengine(runner_ckpt):
    loader = CheckpointLoader._schemes['']
    assert loader is load_trusted_local_checkpoint
    ckpt = CheckpointLoader.load_checkpoint(runner_ckpt, map_location='cpu')
    assert 'state_dict' in ckpt and 'message_hub' in ckpt


def test_remote_schemes_keep_mmengine_loaders():
    # only the local-path scheme is trusted
    for prefix in ('http://', 'https://'):
        assert CheckpointLoader._get_checkpoint_loader(
            prefix + 'x/y.pth') is not load_trusted_local_checkpoint


def test_missing_checkpoint_names_the_file(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        CheckpointLoader.load_checkpoint(missing)


def test_onnx_export_defaults_to_torchscript(tmp_path):
    # The problem: torch >= 2.9 defaults to the dynamo exporter, which
    # mmdeploy 1.3.1's rewriters do not hook.
    default = inspect.signature(torch.onnx.export).parameters['dynamo']
    assert default.default is True

    import onnxruntime as ort
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    x = torch.rand(1, 3, 8, 8)
    out = str(tmp_path / 'm.onnx')
    original = torch.onnx.export
    with torchscript_onnx_exporter():
        assert torch.onnx.export is not original
        torch.onnx.export(model, (x, ), out, opset_version=11)
    assert torch.onnx.export is original, 'the patch must be undone'
    sess = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    y = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(y, model(x).detach().numpy(), atol=1e-5)


class _FailsMidWrite:
    """Not bytes: ``file.write`` raises after the file was opened."""


@pytest.mark.parametrize('method', ['put', 'put_text'])
def test_interrupted_mmengine_write_keeps_old_file(tmp_path, method):
    from mmengine.fileio.backends import LocalBackend

    from mmkdwsd import compat
    path = tmp_path / 'last_checkpoint'
    backend = LocalBackend()

    # The problem: MMEngine truncates first, so a write that dies leaves an
    # empty `last_checkpoint` that --resume then trusts.
    path.write_text('epoch_1.pth')
    original = getattr(compat, f'MMENGINE_LOCAL_{method.upper()}')
    with pytest.raises(TypeError):
        original(backend, _FailsMidWrite(), str(path))
    assert path.read_text() == ''

    # The fix: the old content survives and no temporary file is left.
    path.write_text('epoch_1.pth')
    with pytest.raises((TypeError, AttributeError)):
        getattr(backend, method)(_FailsMidWrite(), str(path))
    assert path.read_text() == 'epoch_1.pth'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['last_checkpoint']


def test_atomic_writes_get_the_usual_permissions(tmp_path):
    # mkstemp's private 0600 must not leak into checkpoints and datasets
    from mmkdwsd.utils.fileio import atomic_write_bytes
    path = tmp_path / 'weights.pth'
    old = os.umask(0o022)
    try:
        atomic_write_bytes(str(path), b'weights')
    finally:
        os.umask(old)
    assert path.read_bytes() == b'weights'
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
