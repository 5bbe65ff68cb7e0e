# Copyright (c) mmkdwsd authors. All rights reserved.
"""Two-process CPU training through the pytorch launcher (gloo backend)."""
import glob
import json
import os
import os.path as osp
import socket
import subprocess

import numpy as np
import pytest

CONFIG = osp.join('tests', 'data', 'configs', 'tiny_student_mlc.py')
CLASSES = ['red', 'green', 'blue', 'none']


def write_tiny_dataset(root: str, num_images: int = 8, size: int = 32) -> str:
    """Random images whose labels are their dominant colour channels.

    Args:
        root (str): Output folder (``ann.json`` + ``img_*.png``).
        num_images (int): Number of images. Defaults to 8.
        size (int): Image side. Defaults to 32.

    Returns:
        str: ``root``.
    """
    import mmcv
    rng = np.random.default_rng(0)
    data_list = []
    os.makedirs(root, exist_ok=True)
    for i in range(num_images):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        mean_rgb = img[..., ::-1].reshape(-1, 3).mean(0)
        labels = [c for c in range(3) if mean_rgb[c] > 127.5] or [3]
        mmcv.imwrite(img, osp.join(root, f'img_{i}.png'))
        data_list.append(dict(img_path=f'img_{i}.png', gt_label=labels))
    with open(osp.join(root, 'ann.json'), 'w') as f:
        json.dump(dict(metainfo=dict(classes=CLASSES), data_list=data_list), f)
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_cpu_training(tmp_path, repo_root, python_exe):
    data_root = write_tiny_dataset(str(tmp_path / 'data'))
    work_dir = str(tmp_path / 'work')
    cmd = [
        python_exe,
        '-m',
        'torch.distributed.run',
        '--nproc_per_node',
        '2',
        '--master_port',
        str(_free_port()),
        'tools/train.py',
        CONFIG,
        '--launcher',
        'pytorch',
        '--work-dir',
        work_dir,
        '--cfg-options',
        'env_cfg.dist_cfg.backend=gloo',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        # every rank writes its own log file at DEBUG level (MMLogger)
        'log_level=DEBUG'
    ]
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='',
        PYTHONPATH=repo_root)
    proc = subprocess.run(
        cmd,
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]

    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth')), os.listdir(work_dir)
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*rank*.log')))
    ranks = {
        osp.basename(p).rsplit('rank', 1)[1].split('.')[0]: p
        for p in logs
    }
    assert set(ranks) == {'0', '1'}, logs
    for rank, log in ranks.items():
        with open(log) as f:
            text = f.read()
        # MMEngine logs the world size as "GPU number", also on the CPU
        assert 'GPU number: 2' in text, f'rank {rank}: world size not 2'
        assert "'backend': 'gloo'" in text
        # both ranks ran the training iterations (4 images per rank, batch 2)
        assert 'Epoch(train) [1][2/2]' in text, f'rank {rank} did not train'
    # DDP: the training batch is split over the ranks (8 images, 2 x 2 x 2)
    assert 'Distributed training: True' in open(ranks['0']).read()
