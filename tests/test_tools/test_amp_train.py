# Copyright (c) mmkdwsd authors. All rights reserved.
"""`tools/train.py --amp`: on the CPU a clear refusal before anything is
built; on a GPU (skipped elsewhere) the OICR-refined WSDDN teacher and the
distiller on it train an epoch under fp16 and bf16 autocast (MMEngine's
AmpOptimWrapper) with finite losses."""
import glob
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.conftest import data_overrides

TEACHER_CFG = 'configs/wsddn/oicr_resnet18-tiny_1xb8-6e_multidigits.py'
DISTILLER_CFG = ('configs/kdwsd/kdwsd_wsddn-resnet18-tiny_resnet18-tiny_'
                 '1xb8-12e_multidigits-32px.py')


def _train(repo_root, cfg, work_dir, *options, amp=True):
    return subprocess.run(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', work_dir] +
        (['--amp'] if amp else []) + ['--cfg-options', *options],
        cwd=repo_root,
        capture_output=True,
        text=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_amp_on_cpu_is_refused(repo_root, tmp_path):
    proc = _train(repo_root, TEACHER_CFG, str(tmp_path / 'work'),
                  'train_cfg.max_epochs=1')
    assert proc.returncode != 0
    assert '--amp needs a CUDA device' in proc.stderr + proc.stdout
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))


def _train_losses(work_dir):
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(logs[0]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if 'loss' in r]


@pytest.mark.skipif(not torch.cuda.is_available(), reason='requires CUDA')
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_training_on_gpu(repo_root, tiny_multidigits, tmp_path, dtype):
    teacher_dir = str(tmp_path / 'teacher')
    opts = data_overrides(tiny_multidigits) + [f'optim_wrapper.dtype={dtype}']
    proc = _train(repo_root, TEACHER_CFG, teacher_dir, *opts)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    kd_dir = str(tmp_path / 'kd')
    proc = _train(repo_root, DISTILLER_CFG, kd_dir, *opts,
                  f'model.teacher_cfg={TEACHER_CFG}',
                  f'model.teacher_ckpt={teacher_dir}/epoch_1.pth')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for work_dir in (teacher_dir, kd_dir):
        assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
        rows = _train_losses(work_dir)
        assert rows, work_dir
        for row in rows:
            for key, value in row.items():
                if 'loss' in key:
                    assert math.isfinite(value), (work_dir, key, value)
