# Copyright (c) mmkdwsd authors. All rights reserved.
"""Building a distiller's frozen teacher: its config, its weights and the
two-view preprocessor config (helpers of :class:`KDWSDDistiller`, also used
by the soft-target cache and the analysis tools)."""
import os.path as osp
from typing import Union

import torch.nn as nn
from mmdet.utils import OptConfigType
from mmengine.config import Config, ConfigDict
from mmengine.logging import MMLogger
from mmengine.runner import CheckpointLoader

from mmkdwsd.utils import mim_path, unwrap_preprocessor_cfg


def load_teacher_config(teacher_cfg: Union[str, dict]) -> dict:
    """The teacher's whole config (a dict is returned as it is).

    Args:
        teacher_cfg (str | dict): The teacher's config file: absolute,
            relative to the working directory, or relative to the package's
            ``.mim/`` copy of ``configs/`` (what ``mim`` runs from
            elsewhere); or a config dict.

    Returns:
        Config | dict: The loaded config.
    """
    if not isinstance(teacher_cfg, str):
        return teacher_cfg
    # relative to the working directory, else to the configs shipped in the
    # installed package (what `mim train` runs from elsewhere)
    candidates = [teacher_cfg]
    if not osp.isabs(teacher_cfg):
        candidates.append(mim_path(teacher_cfg))
    path = next((p for p in candidates if osp.isfile(p)), None)
    if path is None:
        raise FileNotFoundError(
            f'KDWSDDistiller: teacher config "{teacher_cfg}" does not exist '
            '(relative paths are looked up in the working directory, then in '
            'the package\'s .mim/ configs)')
    return Config.fromfile(path)


def teacher_model_cfg(teacher_cfg: Union[str, dict]) -> ConfigDict:
    """The teacher's model dict from its config file, its whole config or
    its model dict."""
    teacher_cfg = load_teacher_config(teacher_cfg)
    if 'model' in teacher_cfg:
        teacher_cfg = teacher_cfg['model']
    return ConfigDict(teacher_cfg)


def kd_preprocessor_cfg(cfg: OptConfigType, teacher: dict,
                        student: dict) -> dict:
    """A ``KDDataPreprocessor`` config whose missing branches are the
    teacher's and the student's own preprocessors.

    So each model sees its inputs normalised exactly as in its own training.
    A ``PreDecodedDataPreprocessor`` gets that config as the preprocessor it
    wraps (and a model's own fast-path wrapper is unwrapped: the branch gets
    what it wraps).

    Args:
        cfg (dict, optional): The distiller's ``data_preprocessor``.
        teacher (dict): The teacher's model config.
        student (dict): The student's model config.

    Returns:
        dict: The completed preprocessor config.
    """
    cfg = dict(type='KDDataPreprocessor') if cfg is None else dict(cfg)
    if unwrap_preprocessor_cfg(cfg) is not cfg:  # the fast path's
        cfg['preprocessor'] = kd_preprocessor_cfg(
            cfg.get('preprocessor'), teacher, student)
        return cfg
    for branch, model in (('teacher', teacher), ('student', student)):
        if cfg.get(branch) is None:
            cfg[branch] = unwrap_preprocessor_cfg(
                model.get('data_preprocessor'))
        if cfg[branch] is None:
            raise ValueError(
                f'KDWSDDistiller: no preprocessor for the {branch} view: '
                f'set data_preprocessor.{branch} or the {branch} '
                "model's data_preprocessor")
    return cfg


def load_teacher_weights(teacher: nn.Module, filename: str,
                         source: str) -> None:
    """Load a teacher checkpoint (CPU, strict), listing every key mismatch.

    Args:
        teacher (nn.Module): The teacher built from its config.
        filename (str): A checkpoint written by the teacher's training.
        source (str): What the teacher was built from, for the error.
    """
    MMLogger.get_current_instance().info(
        f'KDWSDDistiller: loading the teacher checkpoint "{filename}" on the '
        'CPU')
    ckpt = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = {
        k[7:] if k.startswith('module.') else k: v
        for k, v in state.items()
    }
    own = teacher.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(
        f'{k}: checkpoint {tuple(state[k].shape)} vs model '
        f'{tuple(own[k].shape)}' for k in set(own) & set(state)
        if state[k].shape != own[k].shape)
    if missing or unexpected or mismatched:
        raise RuntimeError(
            f'KDWSDDistiller: teacher checkpoint "{filename}" does not fit '
            f'the teacher built from {source}:\n'
            f'  missing keys ({len(missing)}): {missing}\n'
            f'  unexpected keys ({len(unexpected)}): {unexpected}\n'
            f'  shape mismatches ({len(mismatched)}): {mismatched}')
    teacher.load_state_dict(state, strict=True)


def freeze(model: nn.Module) -> None:
    """Put ``model`` in eval mode and stop its gradients."""
    model.eval()
    for param in model.parameters():
        param.requires_grad = False
