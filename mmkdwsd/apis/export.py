# Copyright (c) mmkdwsd authors. All rights reserved.
"""Export a trained student as a standalone mmpretrain model.

The exported pair needs no mmkdwsd: a checkpoint with plain mmpretrain keys
(no ``student.`` prefix) that loads with ``torch.load(weights_only=True)``,
and an mmpretrain config (``default_scope='mmpretrain'``, the student
``ImageClassifier``, a top-level ``test_pipeline`` for mmdeploy and the same
pipeline in ``test_dataloader`` for ``ImageClassificationInferencer``).
"""
import copy
import io
import os
import os.path as osp
from typing import List, Tuple, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.runner import CheckpointLoader

from mmkdwsd.utils import unwrap_preprocessor_cfg
from mmkdwsd.utils.fileio import atomic_write_bytes, atomic_write_text

DISTILLER_TYPES = ('KDWSDDistiller', 'mmkdwsd.KDWSDDistiller')
# Scopes whose prefix is dropped: these classes resolve unscoped under
# default_scope='mmpretrain' (mmpretrain registers mmcv's transforms).
HOST_PREFIXES = ('mmpretrain.', 'mmcv.', 'mmengine.')
# Shared loading/annotation steps of a KD pipeline that a classifier does
# not need at inference.
DROP_TRANSFORMS = ('LoadAnnotations', 'LoadProposals', 'ProposalBroadcaster',
                   'LoadImageLabels')


def _strip_scope(name: str) -> str:
    for prefix in HOST_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _to_mmpretrain(obj, where: str):
    """Drop host-scope prefixes recursively and refuse foreign types."""
    from mmpretrain.registry import MODELS, TRANSFORMS
    if isinstance(obj, list):
        return [_to_mmpretrain(v, f'{where}[{i}]') for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    out = {
        k:
        _init_cfg(v) if k == 'init_cfg' else _to_mmpretrain(v, f'{where}.{k}')
        for k, v in obj.items()
    }
    if isinstance(out.get('type'), str):
        name = _strip_scope(out['type'])
        if '.' in name or not (_known(MODELS, name)
                               or _known(TRANSFORMS, name)):
            raise ValueError(
                f'export: {where} has type {out["type"]!r}, which is not an '
                'mmpretrain/mmcv class; the exported student must not need '
                'mmkdwsd or mmdet')
        out['type'] = name
    return out


def _init_cfg(init_cfg):
    """Drop ``Pretrained`` inits: the exported checkpoint holds the weights
    (and the files they name need not exist where the student is used)."""
    cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    kept = [
        c for c in cfgs
        if not (isinstance(c, dict) and c.get('type') == 'Pretrained')
    ]
    if isinstance(init_cfg, list):
        return kept
    return kept[0] if kept else None


def _known(registry, name: str) -> bool:
    """Whether mmpretrain's registry (or its parents) resolve ``name``."""
    try:
        return registry.get(name) is not None
    except Exception:
        return False


def _student_cfg(cfg: Config) -> Tuple[dict, str]:
    """The student model dict and its key prefix in the checkpoint."""
    model = copy.deepcopy(cfg.model.to_dict(
    ) if isinstance(cfg.model, ConfigDict) else cfg.model)
    # the fast data path's wrapper serves training only
    if model.get('type') in DISTILLER_TYPES:
        student = model['student']
        preprocessor = unwrap_preprocessor_cfg(
            student.get('data_preprocessor'))
        if preprocessor is None:
            preprocessor = unwrap_preprocessor_cfg(
                model['data_preprocessor'])['student']
        student['data_preprocessor'] = preprocessor
        return student, 'student.'
    if model.get('data_preprocessor') is not None:
        model['data_preprocessor'] = unwrap_preprocessor_cfg(
            model['data_preprocessor'])
    return model, ''


def _pipeline_cfg(cfg: Config) -> List[dict]:
    """The student's test pipeline, from the KD two-view pipeline if needed.

    Uses ``export_test_pipeline`` if the config defines it; otherwise the
    test dataset's pipeline, where a ``MultiBranch`` is replaced by its
    ``student`` branch, annotation/proposal loading is dropped and image
    loading becomes mmcv's ``LoadImageFromFile``.
    """
    if cfg.get('export_test_pipeline') is not None:
        return copy.deepcopy(list(cfg.export_test_pipeline))
    pipeline = []
    for step in copy.deepcopy(list(cfg.test_dataloader.dataset.pipeline)):
        name = _strip_scope(str(step['type']).split('.')[-1])
        if name.startswith('LoadImage'):
            # mmkdwsd's safe loader -> mmcv's; the inferencer drops it anyway
            pipeline.append(dict(type='LoadImageFromFile'))
        elif name == 'MultiBranch':
            if 'student' not in step:
                raise ValueError('export: the test MultiBranch has no '
                                 '"student" branch; set export_test_pipeline')
            pipeline += list(step['student'])
        elif name not in DROP_TRANSFORMS:
            pipeline.append(step)
    return pipeline


def export_student(config: Union[str, Config],
                   checkpoint: str,
                   out_dir: str,
                   name: str = 'student') -> Tuple[str, str]:
    """Write ``{name}.pth`` and ``{name}_config.py`` into ``out_dir``.

    Args:
        config (str | Config): A distiller (or plain student) config.
        checkpoint (str): A checkpoint trained with that config.
        out_dir (str): Output folder (created).
        name (str): File name stem. Defaults to 'student'.

    Returns:
        tuple[str, str]: Paths of the checkpoint and of the config.
    """
    if isinstance(config, str) and not osp.isfile(config):
        raise FileNotFoundError(
            f'export: config file "{config}" does not exist')
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    student, prefix = _student_cfg(cfg)
    student = _to_mmpretrain(student, 'model')
    pipeline = _to_mmpretrain(_pipeline_cfg(cfg), 'test_pipeline')
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    source = ckpt.get('state_dict', ckpt)
    state = {
        k[len(prefix):]: v.detach().clone().cpu()
        for k, v in source.items() if k.startswith(prefix)
    }
    if not state:
        raise KeyError(f'export: no "{prefix}*" weights in {checkpoint}')
    _check_keys(student, state, checkpoint)
    meta = dict(
        exported_from=osp.abspath(checkpoint),
        dataset_meta=_plain(ckpt.get('meta', {}).get('dataset_meta', {})))
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = osp.join(out_dir, f'{name}.pth')
    cfg_path = osp.join(out_dir, f'{name}_config.py')
    buffer = io.BytesIO()
    torch.save(dict(state_dict=state, meta=meta), buffer)
    atomic_write_bytes(ckpt_path, buffer.getvalue())
    out_cfg = Config(
        dict(
            default_scope='mmpretrain',
            model=student,
            test_pipeline=pipeline,
            test_dataloader=dict(
                batch_size=1,
                num_workers=0,
                dataset=dict(type='CustomDataset', pipeline=pipeline))))
    atomic_write_text(
        cfg_path, '# Exported by mmkdwsd tools/export_student.py: a '
        'standalone mmpretrain config.\n' + out_cfg.pretty_text)
    return ckpt_path, cfg_path


def _plain(obj):
    """Keep only types that ``torch.load(weights_only=True)`` accepts."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def _check_keys(student: dict, state: dict, checkpoint: str) -> None:
    """The student's own keys and the exported ones must be identical."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(copy.deepcopy(student))
    own = set(model.state_dict())
    missing, unexpected = sorted(own - set(state)), sorted(set(state) - own)
    if missing or unexpected:
        raise KeyError(f'export: the student weights in {checkpoint} do not '
                       f'fit its config: missing {missing}, unexpected '
                       f'{unexpected}')
