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


@pytest.mark.parametrize('keep', [0.5, 0.0], ids=['truncated', 'empty'])
def test_damaged_checkpoint_names_the_file(runner_ckpt, tmp_path, keep):
    with open(runner_ckpt, 'rb') as f:
        data = f.read()
    damaged = tmp_path / 'cut.pth'
    damaged.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(RuntimeError,
                       match=f'checkpoint file "{damaged}" cannot be read'):
        CheckpointLoader.load_checkpoint(str(damaged), map_location='cpu')


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


def _toy_run(work_dir, epochs):
    runner = Runner(**toy_runner_cfg(str(work_dir), max_epochs=epochs))
    runner.train()
    return runner


def test_empty_last_checkpoint_resumes_from_the_newest_checkpoint(tmp_path):
    from mmengine.hooks import CheckpointHook

    from mmkdwsd import compat
    _toy_run(tmp_path, 2)
    pointer = tmp_path / 'last_checkpoint'
    assert pointer.read_text() == str(tmp_path / 'epoch_2.pth')

    # The problem: CheckpointHook writes the pointer with a plain open(),
    # so a kill inside the write leaves it empty, and MMEngine's reader
    # then resumes from ''.
    assert "open(save_file, 'w')" in inspect.getsource(
        CheckpointHook._save_checkpoint_with_step)
    pointer.write_text('')
    assert compat.MMENGINE_FIND_LATEST_CHECKPOINT(str(tmp_path)) == ''

    # The fix: the newest complete checkpoint in the folder, named in a
    # warning, and the real Runner resumes from it (epoch 2 of 3)
    os.utime(tmp_path / 'epoch_1.pth', (1, 1))
    assert compat.find_latest_checkpoint(str(tmp_path)) == str(
        tmp_path / 'epoch_2.pth')
    runner = Runner(**toy_runner_cfg(str(tmp_path), max_epochs=3),
                    resume=True)
    runner.train()
    assert runner.epoch == 3
    assert pointer.read_text() == str(tmp_path / 'epoch_3.pth')
    log = max(tmp_path.glob('*/*.log'), key=os.path.getmtime).read_text()
    assert f'{pointer} is empty' in log
    assert 'resumed epoch: 2,' in log
    assert f'resuming from the newest checkpoint in the folder, ' \
        f'{tmp_path / "epoch_2.pth"}' in log


def test_last_checkpoint_pointer_cases(tmp_path):
    from mmkdwsd.compat import find_latest_checkpoint
    pointer = tmp_path / 'last_checkpoint'
    # nothing at all: train from the start
    assert find_latest_checkpoint(str(tmp_path)) is None
    # a pointer to a file that exists, or to a remote path: as written
    work_dir, iter_4, iter_6 = (str(tmp_path / name)
                                for name in ('', 'iter_4.pth', 'iter_6.pth'))
    open(iter_4, 'wb').close()
    pointer.write_text(iter_4)
    assert find_latest_checkpoint(work_dir) == iter_4
    pointer.write_text('s3://bucket/run/iter_8.pth')
    assert find_latest_checkpoint(work_dir) == 's3://bucket/run/iter_8.pth'
    # a pointer to a missing file: the newest checkpoint here instead; with
    # none, the missing name (the loader's error names it)
    pointer.write_text(iter_6)
    assert find_latest_checkpoint(work_dir) == iter_4
    os.remove(iter_4)
    assert find_latest_checkpoint(work_dir) == iter_6
    # no pointer at all (killed before the first was written): the newest
    # checkpoint, silently with warn=False
    os.remove(pointer)
    open(iter_4, 'wb').close()
    assert find_latest_checkpoint(work_dir, warn=False) == iter_4
    # other .pth files (an exported student, say) are not checkpoints
    os.remove(iter_4)
    pointer.write_text('')
    (tmp_path / 'student.pth').write_bytes(b'x')
    assert find_latest_checkpoint(str(tmp_path)) is None


def test_resume_from_weights_only_checkpoint_names_file_and_entry(tmp_path):
    _toy_run(tmp_path / 'run', 1)
    full = torch.load(
        tmp_path / 'run' / 'epoch_1.pth', map_location='cpu',
        weights_only=False)
    weights = tmp_path / 'student.pth'
    torch.save({'state_dict': full['state_dict']}, weights)
    runner = Runner(
        **toy_runner_cfg(str(tmp_path / 'resumed'), max_epochs=2),
        resume=True, load_from=str(weights))
    with pytest.raises(RuntimeError, match=f'cannot resume from "{weights}"'
                       r': the checkpoint has no "meta" entry.*load_from'):
        runner.train()
    # the same weights start a new run through load_from
    runner = Runner(
        **toy_runner_cfg(str(tmp_path / 'fresh'), max_epochs=1),
        load_from=str(weights))
    runner.train()
    assert runner.epoch == 1
