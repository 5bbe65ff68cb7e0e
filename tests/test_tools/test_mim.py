# Copyright (c) mmkdwsd authors. All rights reserved.
"""`mim train mmkdwsd CONFIG` and `mim test mmkdwsd CONFIG --checkpoint`
against the regular (non-editable) install made by tools/setup_env.sh."""
import importlib.metadata
import os
import os.path as osp
import subprocess
import sys

import pytest

from tests.conftest import data_overrides

STUDENT_CFG = 'configs/mlc/resnet18-tiny_1xb32-20e_multidigits-64px.py'
MIM = osp.join(osp.dirname(sys.executable), 'mim')


def _installed_as_regular_package() -> bool:
    dist = importlib.metadata.distribution('mmkdwsd')
    direct = dist.read_text('direct_url.json') or ''
    return '"editable": true' not in direct


@pytest.mark.skipif(
    not osp.isfile(MIM), reason='openmim is installed by tools/setup_env.sh')
def test_mim_train_then_test(tmp_path, tiny_multidigits, repo_root):
    assert _installed_as_regular_package(), (
        'mim needs a regular install of mmkdwsd (tools/setup_env.sh)')
    # mim runs the tools shipped in the installed package
    pkg_root = str(
        importlib.metadata.distribution('mmkdwsd').locate_file('mmkdwsd'))
    cfg = osp.join(repo_root, STUDENT_CFG)
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, PYTHONPATH='')
    train = subprocess.run(
        [MIM, 'train', 'mmkdwsd', cfg, '--work-dir', work_dir,
         '--cfg-options'] + data_overrides(tiny_multidigits),
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True)
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    assert osp.join(pkg_root, '.mim', 'tools', 'train.py') in train.stdout
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(ckpt)

    test = subprocess.run(
        [MIM, 'test', 'mmkdwsd', cfg, '--checkpoint', ckpt, '--work-dir',
         str(tmp_path / 'test'), '--cfg-options'] +
        data_overrides(tiny_multidigits),
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True)
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    assert 'Testing finished successfully' in test.stdout
    assert "'mAP':" in test.stdout
