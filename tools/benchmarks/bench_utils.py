# Copyright (c) mmkdwsd authors. All rights reserved.
"""Shared helpers of the benchmark scripts: timing, tables, provenance."""
import datetime
import os
import os.path as osp
import platform
import shlex
import subprocess
import sys
import time
from collections import Counter
from typing import Callable, List, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def git_commit() -> str:
    """Short commit of the checkout (``+dirty`` with local changes), or
    ``$MMKDWSD_COMMIT`` where the caller knows better (the GPU machine's
    copy of the tree: tools/benchmarks/gpu_session.sh sets it)."""
    if os.environ.get('MMKDWSD_COMMIT'):
        return os.environ['MMKDWSD_COMMIT']
    try:
        commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                                cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain'], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return commit + ('+dirty' if dirty else '')
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def base_dataset(loader_cfg):
    """The config of the dataset a loader reads (inside a
    ``PreDecodedDataset`` wrapper, the wrapped one)."""
    dataset = loader_cfg.dataset
    while dataset.get('type') == 'PreDecodedDataset':
        dataset = dataset.dataset
    return dataset


def device_name(device: str) -> str:
    """A readable name of the device the numbers come from."""
    import torch
    if device.startswith('cuda') and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return f'CPU {cpu} ({os.cpu_count()} logical cores visible)'


def env_line(args=None, device: str = 'cpu', extra: str = '') -> str:
    """Provenance: command, commit, device, date, library versions."""
    import torch
    cmd = ' '.join(shlex.quote(a) for a in [osp.relpath(sys.argv[0], ROOT)] +
                   sys.argv[1:]) if sys.argv and sys.argv[0] else '?'
    parts = [
        f'command: `python {cmd}`', f'commit: {git_commit()}',
        f'device: {device_name(device)}',
        'date: ' + datetime.datetime.now().astimezone().isoformat(
            'T', 'seconds'),
        f'torch {torch.__version__}'
    ]
    if extra:
        parts.append(extra)
    return 'Produced by ' + '; '.join(parts) + '.'


def markdown_table(header: Sequence[str], rows: List[Sequence]) -> str:
    lines = ['| ' + ' | '.join(str(h) for h in header) + ' |',
             '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def write_report(text: str, path: str) -> None:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def synchronize(device: str) -> None:
    import torch
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def median_time(fn: Callable[[], object], device: str, warmup: int,
                repeats: int, inner: int = 1) -> float:
    """Median seconds of one call of ``fn`` (``inner`` calls per timed
    repeat, after ``warmup`` calls; synchronised on CUDA)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        synchronize(device)
        times.append((time.perf_counter() - start) / inner)
    return float(np.median(times))


def top_level_ops(prof) -> Counter:
    """ATen events with no ATen ancestor (each a kernel launch or more),
    counted by name."""
    names = Counter()
    for event in prof.events():
        if not event.name.startswith('aten::'):
            continue
        parent = event.cpu_parent
        while parent is not None and not parent.name.startswith('aten::'):
            parent = parent.cpu_parent
        if parent is None:
            names[event.name] += 1
    return names
