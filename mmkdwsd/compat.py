# Copyright (c) mmkdwsd authors. All rights reserved.
"""Fixes the released host packages need on current torch.

Each fix names the upstream issue and is applied once, idempotently, when
``mmkdwsd`` is imported (:func:`apply_compat_fixes`).
"""
import contextlib
import functools
import importlib
import logging
import os
import os.path as osp
import pickle
import re
from typing import Iterator, Optional

import mmengine.runner.checkpoint as mmengine_checkpoint
import torch
from mmengine.fileio.backends import LocalBackend
from mmengine.logging import print_log
from mmengine.runner import CheckpointLoader

from .utils.fileio import atomic_write_bytes, atomic_write_text


def load_trusted_local_checkpoint(filename: str,
                                  map_location: Optional[str] = None) -> dict:
    """Load a local checkpoint file the user named, unpickling it fully.

    torch >= 2.6 loads with ``weights_only=True`` by default, and checkpoints
    written by MMEngine 0.10.7 runners hold a ``HistoryBuffer`` in their
    ``message_hub``, so ``load_from``, ``--resume`` and teacher checkpoints
    fail to load (open-mmlab/mmengine#1621, fixed only on mmengine main by
    open-mmlab/mmengine#1670).

    Trust boundary: this loader is registered for *local paths only* (the
    empty prefix). A checkpoint is a pickle, and unpickling runs code: load
    only files you produced or trust. Remote URLs (``http://``, ``s3://``,
    ...) keep MMEngine's own loaders and torch's safe default.

    Args:
        filename (str): Path of a local checkpoint file.
        map_location (str, optional): Same as :func:`torch.load`.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'checkpoint file "{filename}" does not exist or is not a file')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as e:
        # a truncated zip reads as "[Errno 22] Invalid argument"
        raise RuntimeError(
            f'checkpoint file "{filename}" cannot be read: {e} (a '
            'truncated file, from a copy or download cut short, or one '
            'that is not a PyTorch checkpoint reads so)') from e


@contextlib.contextmanager
def torchscript_onnx_exporter() -> Iterator[None]:
    """Make ``torch.onnx.export`` default to the TorchScript exporter.

    torch >= 2.9 defaults ``torch.onnx.export(..., dynamo=True)``; mmdeploy
    1.3.1 calls it without ``dynamo=`` and its rewriters only hook the
    TorchScript exporter, so exports then need onnxscript and silently skip
    mmdeploy's rewrites (pytorch/pytorch#151693, open-mmlab/mmdeploy#2883).
    Inside this context ``dynamo`` defaults to False; an explicit value wins.
    """
    original = torch.onnx.export

    @functools.wraps(original)
    def export(*args, **kwargs):
        kwargs.setdefault('dynamo', False)
        return original(*args, **kwargs)

    torch.onnx.export = export
    try:
        yield
    finally:
        torch.onnx.export = original


# MMEngine's own writers, kept to show what the fix changes (tests).
MMENGINE_LOCAL_PUT = LocalBackend.put
MMENGINE_LOCAL_PUT_TEXT = LocalBackend.put_text


def _atomic_put(self, obj: bytes, filepath) -> None:
    atomic_write_bytes(str(filepath), obj)


def _atomic_put_text(self, obj: str, filepath, encoding: str = 'utf-8'):
    atomic_write_text(str(filepath), obj, encoding=encoding)


def make_local_writes_atomic() -> None:
    """Make MMEngine's local file writes atomic.

    MMEngine 0.10.7 writes checkpoints (``LocalBackend.put``) and text
    files (``LocalBackend.put_text``) by truncating the file and writing into
    it. A kill inside that window leaves a truncated ``iter_N.pth``, and
    ``--resume`` then trusts it and fails. Written to a temporary file and
    renamed over the destination, a file is either the old one or the new
    complete one. (``CheckpointHook`` writes the ``last_checkpoint`` pointer
    with a plain ``open``, which this does not reach:
    :func:`find_latest_checkpoint` covers that file.)
    """
    LocalBackend.put = _atomic_put
    LocalBackend.put_text = _atomic_put_text


MMENGINE_FIND_LATEST_CHECKPOINT = mmengine_checkpoint.find_latest_checkpoint
_CKPT_NAME = re.compile(r'^(epoch|iter)_\d+\.pth$')


def find_latest_checkpoint(path: str, warn: bool = True) -> Optional[str]:
    """The checkpoint ``--resume`` (``resume=True``) continues from.

    MMEngine 0.10.7's ``CheckpointHook`` writes the work dir's
    ``last_checkpoint`` pointer with ``open(..., 'w')`` after each
    checkpoint: a kill between the truncation and the write leaves it empty
    (the checkpoint it was about to name is already complete), and
    MMEngine's reader then returns ``''`` and resuming fails with
    ``checkpoint file "" does not exist``. This reader returns the pointer
    when it names a checkpoint (or a remote path), and otherwise the newest
    ``epoch_N.pth`` / ``iter_N.pth`` in ``path`` (also when a kill came
    before the first pointer was written), with a warning that names both;
    with neither, what MMEngine's returns (``None``: train from the start).

    Args:
        path (str): The work dir.
        warn (bool): Log what was found instead of the pointer. Defaults to
            True.

    Returns:
        str | None: The checkpoint to resume from.
    """
    pointer = osp.join(path, 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and ('://' in named or osp.isfile(named)):
            return named
    found = [
        osp.join(path, name) for name in os.listdir(path)
        if _CKPT_NAME.match(name)
    ] if osp.isdir(path) else []
    if not found:
        if named:  # let the loader name the missing file
            return named
        if warn:
            print_log(f'Did not find a checkpoint to resume from in {path}.',
                      logger='current', level=logging.WARNING)
        return None
    newest = max(found, key=osp.getmtime)
    if warn:
        if named is None:
            problem = 'does not exist'
        elif named:
            problem = f'names "{named}", which does not exist'
        else:
            problem = 'is empty (training was stopped while writing it)'
        print_log(f'{pointer} {problem}; resuming from the newest '
                  f'checkpoint in the folder, {newest}',
                  logger='current', level=logging.WARNING)
    return newest


# the checkpoint entries ``Runner.resume`` reads (MMEngine 0.10.7)
_RESUME_KEYS = ('meta', 'epoch', 'iter', 'state_dict', 'message_hub',
                'optimizer', 'param_schedulers')


def _resume_names_the_missing_entry(resume):
    """Wrap ``Runner.resume`` so that a checkpoint without the training
    state (an exported student, a weights-only copy) fails with an error
    naming the file and the missing entry instead of ``KeyError: 'meta'``."""
    if getattr(resume, '_mmkdwsd_wrapped', False):
        return resume

    @functools.wraps(resume)
    def wrapped(self, filename, *args, **kwargs):
        try:
            return resume(self, filename, *args, **kwargs)
        except KeyError as err:
            key = err.args[0] if err.args else None
            if key not in _RESUME_KEYS:
                raise
            raise RuntimeError(
                f'cannot resume from "{filename}": the checkpoint has no '
                f'"{key}" entry. Resuming needs a checkpoint written by a '
                'training run (state_dict, meta with epoch and iter, '
                'message_hub, optimizer, param_schedulers); to start a new '
                'run from the weights of this file, set load_from to it and '
                'drop --resume') from err

    wrapped._mmkdwsd_wrapped = True
    return wrapped


def apply_compat_fixes() -> None:
    """Apply the import-time fixes (idempotent)."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_trusted_local_checkpoint, force=True)
    make_local_writes_atomic()
    # the Runners import the function by name
    for name in ('mmengine.runner.checkpoint', 'mmengine.runner',
                 'mmengine.runner.runner', 'mmengine.runner._flexible_runner'):
        try:
            module = importlib.import_module(name)
        except ImportError:  # a private module of another MMEngine version
            continue
        if hasattr(module, 'find_latest_checkpoint'):
            module.find_latest_checkpoint = find_latest_checkpoint
    from mmengine.runner import Runner
    Runner.resume = _resume_names_the_missing_entry(Runner.resume)


def setup_cpu_distributed(cfg) -> None:
    """Let ``--launcher pytorch`` run on CPUs through the gloo backend.

    MMEngine 0.10.7 assumes CUDA once a launcher is set: ``init_dist`` calls
    ``torch.cuda.set_device(local_rank)`` ("Found no NVIDIA driver") and
    ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DDP, which a
    CPU module refuses. Without CUDA this initialises the gloo process group
    itself (the Runner then skips ``init_dist``; a configured ``nccl`` backend
    is switched to gloo with a warning) and builds DDP without
    ``device_ids``. With CUDA, or without a launcher, it does nothing.

    Args:
        cfg (Config): The runner config; ``cfg.launcher`` and
            ``cfg.env_cfg.dist_cfg`` are read, ``cfg.model_wrapper_cfg``
            is set.
    """
    import datetime
    import warnings

    import torch.distributed as dist
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'gloo')
    if backend != 'gloo':
        warnings.warn(f'no CUDA device: using the gloo backend instead of '
                      f'"{backend}" for CPU distributed training')
    if 'timeout' in dist_cfg:  # seconds, as MMEngine's init_dist takes it
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', **dist_cfg)
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    if wrapper.get('type') == 'MMDistributedDataParallel':
        wrapper.setdefault('device_ids', None)
        wrapper.setdefault('broadcast_buffers', False)
        wrapper.setdefault('find_unused_parameters',
                           cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
