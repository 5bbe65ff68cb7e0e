# Copyright (c) mmkdwsd authors. All rights reserved.
import contextlib
import logging
import os
import sys

import pytest
from mmengine.logging import MMLogger

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='session', autouse=True)
def _register_modules():
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=True)


@pytest.fixture(scope='session')
def repo_root() -> str:
    return ROOT


@pytest.fixture(scope='session')
def python_exe() -> str:
    return sys.executable


@contextlib.contextmanager
def _collect_log_messages():
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope='session')
def log_messages():
    """``with log_messages() as messages:`` collects what mmengine's current
    logger logs inside the block.

    Read from a handler on the logger itself: its console handler may hold
    a stream from before pytest's capture, so capsys cannot be relied on.
    """
    return _collect_log_messages


@pytest.fixture(scope='session')
def tiny_multidigits(tmp_path_factory) -> str:
    """A tiny real MultiDigits set (16 train / 8 val scenes) with windows
    proposals at the configs' default paths, made by the project's tools."""
    import subprocess
    root = str(tmp_path_factory.mktemp('multidigits_tiny'))
    subprocess.run([
        sys.executable, 'tools/generate_multidigits.py', '--preset', 'small',
        '--out-dir', root, '--num-train', '16', '--num-val', '8',
        '--no-progress'
    ],
                   cwd=ROOT,
                   check=True)
    for split in ('train', 'val'):
        subprocess.run([
            sys.executable, 'tools/generate_proposals.py', '--ann-file',
            f'{root}/annotations/instances_{split}.json', '--img-dir',
            f'{root}/{split}', '--out', f'{root}/proposals/ss_{split}.pkl',
            '--method', 'windows', '--topk', '40', '--workers', '1',
            '--no-progress'
        ],
                       cwd=ROOT,
                       check=True)
    return root


def data_overrides(data_root: str, epochs: int = 1) -> list:
    """`--cfg-options` that point a MultiDigits config at `data_root` and
    make it small, single-process and short."""
    opts = [f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1']
    for split in ('train', 'val', 'test'):
        opts += [
            f'{split}_dataloader.dataset.data_root={data_root}/',
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False',
            f'{split}_dataloader.batch_size=4',
        ]
    return opts
