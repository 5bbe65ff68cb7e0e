# Copyright (c) mmkdwsd authors. All rights reserved.
"""Build shim: metadata lives in setup.cfg.

Before building, ``tools/`` and ``configs/`` are copied into
``mmkdwsd/.mim/`` so that ``mim train mmkdwsd CONFIG`` and ``mim test`` find
the package's train/test scripts in a regular (non-editable) install.
``tools/setup_env.sh`` then links the checkout's ``.mim/`` folders back to
``tools/`` and ``configs/`` so that ``mim`` never runs a stale copy.
"""
import os
import os.path as osp
import shutil

from setuptools import setup


def add_mim_extension() -> None:
    root = osp.dirname(osp.abspath(__file__))
    mim_dir = osp.join(root, 'mmkdwsd', '.mim')
    for name in ('tools', 'configs'):
        src, dst = osp.join(root, name), osp.join(mim_dir, name)
        if not osp.isdir(src):
            continue
        if osp.islink(dst):  # a checkout's link (tools/setup_env.sh)
            os.unlink(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        shutil.copytree(
            src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.sh'))


add_mim_extension()
setup()
