# Copyright (c) mmkdwsd authors. All rights reserved.
import importlib.util
import os.path as osp
import sys
from types import ModuleType
from typing import Optional


def load_script(path: str,
                name: Optional[str] = None,
                register: bool = False) -> ModuleType:
    """Import a script of ``tools/`` (not a package module) by its path.

    Args:
        path (str): The script's path.
        name (str, optional): The module's name. Defaults to
            ``mmkdwsd_<file stem>``.
        register (bool): Put the module in ``sys.modules``, so that worker
            processes pickle its functions by name. Defaults to False.

    Returns:
        ModuleType: The executed module.
    """
    name = name or 'mmkdwsd_' + osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
