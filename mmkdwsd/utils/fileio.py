# Copyright (c) mmkdwsd authors. All rights reserved.
"""Atomic file writes for everything mmkdwsd and its tools produce.

A file is first written next to its destination under a temporary name and
then moved over it with :func:`os.replace`, which is atomic on POSIX and
Windows. A run killed at any point therefore leaves either the old file or
the new complete one, never a truncated file that a later run would trust.
"""
import json
import logging
import os
import os.path as osp
import pickle
import tempfile
from typing import Any, Optional


def _umask() -> int:
    """The process umask (reading it means setting it, so set it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Args:
        path (str): Destination file. Its folder is created if needed.
        data (bytes): File content.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the permissions a
        # plain open() would have given it
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


def atomic_write_text(path: str, text: str, encoding: str = 'utf-8') -> None:
    """Write ``text`` to ``path`` atomically.

    Args:
        path (str): Destination file.
        text (str): File content.
        encoding (str): Text encoding. Defaults to 'utf-8'.
    """
    atomic_write_bytes(path, text.encode(encoding))


def atomic_dump_json(obj: Any, path: str) -> None:
    """Dump ``obj`` as compact, key-ordered JSON to ``path`` atomically.

    The same object always gives the same bytes (keys keep their insertion
    order, no timestamps), which the dataset generator relies on.

    Args:
        obj (Any): A JSON-serialisable object.
        path (str): Destination file.
    """
    text = json.dumps(obj, separators=(',', ':'), ensure_ascii=True)
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_dump_pickle(obj: Any, path: str) -> None:
    """Pickle ``obj`` to ``path`` atomically (readable by ``mmengine.load``).

    Args:
        obj (Any): A picklable object.
        path (str): Destination file; should end with ``.pkl``.
    """
    atomic_write_bytes(path, pickle.dumps(obj, protocol=4))


def load_pickle_file(path: str, what: str, hint: str,
                     error_cls: type = ValueError) -> Any:
    """Load a pickle the tools wrote, naming the file in every error.

    Args:
        path (str): The file.
        what (str): What it holds, e.g. 'Proposal file'.
        hint (str): How to make or fix it, appended to "not found".
        error_cls (type): Raised when the file cannot be read.

    Returns:
        Any: The unpickled object.
    """
    import mmengine
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}. {hint}')
    try:
        return mmengine.load(path, file_format='pkl')
    except Exception as e:
        raise error_cls(f'Cannot read {what.lower()} {path}: {e!r}') from e


def read_done_marker(path: str) -> Optional[dict]:
    """The ``done.json`` of a finished stage or run, or None.

    The tools write these markers atomically, so an unreadable one was
    damaged from outside (an editor, a full disk); the stage then counts as
    unfinished (its training resumes from its checkpoints, nothing is
    lost) and a warning names the file.

    Args:
        path (str): The marker file.

    Returns:
        dict | None: Its content; None when it is missing, unreadable or not
        a JSON object.
    """
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            done = json.load(f)
        if isinstance(done, dict):
            return done
        problem = f'holds a {type(done).__name__}, not an object'
    except (OSError, UnicodeDecodeError, ValueError) as e:
        problem = repr(e)
    from mmengine.logging import print_log
    print_log(
        f'done-marker {path} is unreadable ({problem}): the stage counts '
        'as unfinished and resumes from its checkpoints',
        logger='current',
        level=logging.WARNING)
    return None
