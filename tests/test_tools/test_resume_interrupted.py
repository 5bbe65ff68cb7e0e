# Copyright (c) mmkdwsd authors. All rights reserved.
"""A training killed in the middle of an epoch and resumed with --resume ends
with the same weights and metrics as an uninterrupted run."""
import glob
import json
import os.path as osp
import signal
import subprocess
import sys
import time

import torch

from tests.conftest import data_overrides

CFG = 'configs/mlc/resnet18-tiny_1xb8-12e_multidigits-32px.py'
EPOCHS = 3  # 16 images / batch 4 = 4 iterations an epoch


def _cmd(repo_root, work_dir, data_root, *extra):
    opts = data_overrides(data_root, epochs=EPOCHS) + [
        'train_cfg.type=ResumableEpochBasedTrainLoop',
        'default_hooks.checkpoint.by_epoch=False',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=-1',
        'randomness.seed=0', 'randomness.deterministic=True'
    ]
    return [
        sys.executable,
        osp.join(repo_root, 'tools/train.py'),
        osp.join(repo_root, CFG), '--work-dir', work_dir, *extra,
        '--cfg-options'
    ] + opts


def _final_state(work_dir):
    ckpt = torch.load(
        osp.join(work_dir, f'iter_{4 * EPOCHS}.pth'),
        map_location='cpu',
        weights_only=False)
    return ckpt['state_dict']


def _last_map(work_dir):
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', '*.json')))
    with open(logs[-1]) as f:
        rows = [json.loads(line) for line in f if '"mAP"' in line]
    return rows[-1]['mAP']


def test_kill_mid_epoch_then_resume_is_exact(tmp_path, tiny_multidigits,
                                             repo_root):
    straight = str(tmp_path / 'straight')
    subprocess.run(
        _cmd(repo_root, straight, tiny_multidigits),
        check=True,
        capture_output=True)

    killed = str(tmp_path / 'killed')
    proc = subprocess.Popen(
        _cmd(repo_root, killed, tiny_multidigits),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    mid_epoch_ckpt = osp.join(killed, 'iter_6.pth')  # 2 of epoch 2's 4
    deadline = time.time() + 300
    while not osp.exists(mid_epoch_ckpt) and proc.poll() is None:
        assert time.time() < deadline, 'training never reached iteration 6'
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, 'training ended before the kill'
    assert not osp.exists(osp.join(killed, f'iter_{4 * EPOCHS}.pth'))

    resumed = subprocess.run(
        _cmd(repo_root, killed, tiny_multidigits, '--resume'),
        capture_output=True,
        text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed' in resumed.stdout + resumed.stderr

    a, b = _final_state(straight), _final_state(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert _last_map(straight) == _last_map(killed)
