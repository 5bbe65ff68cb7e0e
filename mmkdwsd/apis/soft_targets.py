# Copyright (c) mmkdwsd authors. All rights reserved.
"""Compute and cache a frozen teacher's soft targets for a dataset split.

Used by ``tools/cache_soft_targets.py``; the file format is described in
:mod:`mmkdwsd.datasets.soft_targets`.
"""
import contextlib
import copy
import logging
import os
import os.path as osp
import time
from typing import Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmkdwsd.datasets.soft_targets import (FLIP_VIEWS, SoftTargetError,
                                           load_soft_target_file,
                                           soft_target_key, soft_target_views)
from mmkdwsd.registry import DATASETS, MODELS
from mmkdwsd.utils.fileio import atomic_dump_pickle
from mmkdwsd.utils.progress import Progress


def teacher_view_pipeline(distiller_cfg: dict, flip: bool = False) -> list:
    """The teacher's own test pipeline, without loading true boxes.

    Args:
        distiller_cfg (dict): The distiller's ``model`` config.
        flip (bool): Flip every image and its proposals horizontally (an
            ``mmdet.RandomFlip`` with probability 1 after the resize, inside
            the pipeline's ``mmdet.ProposalBroadcaster``). Defaults to False.

    Returns:
        list[dict]: Load image and proposals, fixed resize, (flip,) pack.
    """
    from mmkdwsd.models.distillers import load_teacher_config
    teacher_cfg = distiller_cfg['teacher_cfg']
    full = load_teacher_config(teacher_cfg)
    pipeline = full.get('test_pipeline')
    where = f'"{teacher_cfg}"' if isinstance(teacher_cfg, str) \
        else 'model.teacher_cfg'
    if pipeline is None:
        raise KeyError(
            f'cache_soft_targets: the teacher config {where} has no '
            'top-level test_pipeline (the teacher view the soft targets '
            'are computed on): point model.teacher_cfg at the teacher\'s '
            'training config file')
    pipeline = [
        copy.deepcopy(t) for t in pipeline
        if t['type'] not in ('mmdet.LoadAnnotations', 'LoadAnnotations')
    ]
    if flip:
        broadcasters = [
            t for t in pipeline if t['type'] in ('mmdet.ProposalBroadcaster',
                                                 'ProposalBroadcaster')
        ]
        if len(broadcasters) != 1:
            raise ValueError(
                f'cache_soft_targets --flip: the test_pipeline of the teacher '
                f'config {where} needs exactly one mmdet.ProposalBroadcaster '
                '(which resizes the image and its proposals together) to '
                f'flip them together; found {len(broadcasters)}')
        broadcasters[0]['transforms'].append(
            dict(type='mmdet.RandomFlip', prob=1.0, direction='horizontal'))
    return pipeline


def _split_dataset(cfg: Config, split: str) -> dict:
    """The split's innermost dataset config (RepeatDataset & co.
    unwrapped)."""
    dataset = cfg[f'{split}_dataloader']['dataset']
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def _split_dataset_cfg(cfg: Config, split: str,
                       proposal_file: Optional[str]) -> dict:
    """The split's dataset config with the teacher view pipeline."""
    dataset = copy.deepcopy(_split_dataset(cfg, split))
    proposal_file = proposal_file or dataset.get('proposal_file') or \
        cfg.get(f'{split}_proposal_file')
    if not proposal_file:
        raise ValueError(
            f'cache_soft_targets: no proposal file for the {split} split: '
            f'the config sets neither {split}_dataloader.dataset.'
            f'proposal_file nor {split}_proposal_file; pass --proposal-file')
    dataset.update(
        proposal_file=proposal_file,
        soft_target_file=None,
        pipeline=teacher_view_pipeline(cfg.model))
    return dataset


def pred_temperatures(pred_cfg: Optional[dict]) -> dict:
    """``cls_temperature`` and ``det_temperature`` of a prediction-level
    config (the distiller's default 0.5, the paper's, where unset), as a
    soft-target file's ``meta`` records them; none for the 'refined'
    ``target_source``, whose targets have no temperatures."""
    pred_cfg = pred_cfg or {}
    if target_source(pred_cfg) == 'refined':
        return {}
    return {
        key: float(pred_cfg.get(key, 0.5))
        for key in ('cls_temperature', 'det_temperature')
    }


def _meta(cfg: Config, model, split: str, num_classes: int,
          flip: bool) -> dict:
    teacher_cfg = cfg.model['teacher_cfg']
    source = target_source(model.pred_cfg)
    meta = dict(
        num_classes=num_classes,
        **pred_temperatures(model.pred_cfg),
        teacher_cfg=teacher_cfg if isinstance(teacher_cfg, str) else 'dict',
        teacher_ckpt=cfg.model.get('teacher_ckpt'),
        split=split)
    if flip:
        meta['views'] = list(FLIP_VIEWS)
    if source != 'wsddn':  # absent: the paper's WSDDN-stream targets
        meta['target_source'] = source
    return meta


def target_source(pred_cfg: Optional[dict]) -> str:
    """The soft targets' source of a prediction-level config:
    ``target_source``, 'wsddn' (the paper's) where unset; a soft-target
    file's ``meta`` records it when it is not 'wsddn'."""
    return (pred_cfg or {}).get('target_source') or 'wsddn'


def cache_flip(cfg: Config) -> bool:
    """Whether a config's soft targets are cached with the flipped view:
    its ``soft_target_cache=dict(flip=True)`` (what
    ``tools/cache_soft_targets.py`` and the benchmarks read)."""
    return bool((cfg.get('soft_target_cache') or {}).get('flip', False))


def student_flips(cfg: Config) -> bool:
    """Whether a config's training flips the student's images: a
    ``flip_prob`` > 0 in its model's data preprocessor (the fast path) or a
    ``RandomFlip`` with ``prob`` > 0 in its train pipeline."""

    def flips(node) -> bool:
        if isinstance(node, dict):
            kind = str(node.get('type', ''))
            if kind.split('.')[-1] == 'RandomFlip' and node.get('prob', 0):
                return True
            if node.get('flip_prob', 0):
                return True
            return any(flips(v) for v in node.values())
        if isinstance(node, (list, tuple)):
            return any(flips(v) for v in node)
        return False

    return flips(cfg.model.get('data_preprocessor')) or flips(
        cfg.get('train_dataloader', {}).get('dataset'))


def default_output(cfg: Config, split: str = 'train') -> Optional[str]:
    """The ``soft_target_file`` a config's split reads, if it sets one."""
    dataset = _split_dataset(cfg, split)
    path = dataset.get('soft_target_file')
    if path and not osp.isabs(path) and dataset.get('data_root'):
        path = osp.join(dataset['data_root'], path)
    return path


def check_soft_target_file(cfg: Config, split: str = 'train') -> Optional[str]:
    """Refuse a cached soft-target file computed at other temperatures,
    from other teacher streams (``target_source``), or with other views,
    than the config asks for.

    The file's ``meta`` records the ``cls_temperature`` / ``det_temperature``
    it was computed at; the student is trained against ``p'`` at
    ``model.pred_distill``'s (0.5 where unset). A file cached for one pair
    and read by a config with another would train silently on the wrong
    targets. Likewise a config with ``soft_target_cache=dict(flip=True)``
    needs the file's flipped view (``meta['views']``), and one without it
    a file without it.

    Args:
        cfg (Config): A distiller config whose ``split`` dataset may set
            ``soft_target_file``.
        split (str): The split to check. Defaults to 'train'.

    Returns:
        str, optional: The checked file, or None when there is nothing to
        check (no prediction level, no file, or the file does not exist yet:
        the dataset names a missing file itself).

    Raises:
        SoftTargetError: The file's temperatures or views differ from the
            config's, naming the file, the field and both values.
    """
    pred = cfg.model.get('pred_distill')
    if not pred or not cfg.get(f'{split}_dataloader'):
        return None
    path = default_output(cfg, split)
    if not path or not osp.isfile(path):
        return None
    meta = load_soft_target_file(path)['meta']
    want = target_source(pred)
    have = meta.get('target_source', 'wsddn')
    if have != want:
        raise SoftTargetError(
            f'Soft-target file {path} holds targets from the {have!r} '
            f'teacher streams (meta target_source), but model.pred_distill.'
            f'target_source is {want!r}: recompute it with '
            'tools/cache_soft_targets.py CONFIG (or set model.pred_distill.'
            f'target_source={have!r})')
    for key, want in pred_temperatures(pred).items():
        if key in meta and float(meta[key]) != want:
            raise SoftTargetError(
                f'Soft-target file {path} was computed at {key} '
                f'{meta[key]}, but model.pred_distill.{key} is {want}: '
                'recompute it with tools/cache_soft_targets.py CONFIG (or '
                f'set model.pred_distill.{key}={meta[key]})')
    flip = cache_flip(cfg)
    if (soft_target_views(meta) == 2) != flip:
        raise SoftTargetError(
            f'Soft-target file {path} was computed '
            f'{"without" if flip else "with"} the flipped view (meta views '
            f'{meta.get("views")}), but the config sets soft_target_cache.'
            f'flip={flip}: recompute it with tools/cache_soft_targets.py '
            'CONFIG (or change soft_target_cache)')
    return path


def _reuse_targets(path: str, meta: dict, keys: list, targets: dict) -> None:
    """Add to ``targets`` ``path``'s targets of the ``keys`` it lacks.

    Raises:
        SoftTargetError: ``path`` is missing or was computed with other
            settings than ``meta``.
    """
    if not osp.isfile(path):
        raise SoftTargetError(
            f'cache_soft_targets: --reuse-from {path} does not exist (a '
            'finished soft-target file of the same teacher and settings)')
    old = load_soft_target_file(path)
    if old['meta'] != meta:
        raise SoftTargetError(
            f'cache_soft_targets: --reuse-from {path} was computed with '
            f'other settings ({old["meta"]}, now {meta}); its targets '
            'cannot be reused')
    reused = [k for k in keys if k not in targets and k in old['targets']]
    targets.update((k, old['targets'][k]) for k in reused)
    print_log(
        f'cache_soft_targets: {len(reused)} of {len(keys)} images\' soft '
        f'targets reused from {path}',
        logger='current')


@torch.no_grad()
def cache_soft_targets(cfg: Config,
                       out: str,
                       split: str = 'train',
                       proposal_file: Optional[str] = None,
                       device: str = 'cpu',
                       batch_size: int = 8,
                       num_workers: int = 2,
                       save_every: int = 50,
                       progress: bool = True,
                       flip: bool = False,
                       reuse_from: Optional[str] = None) -> dict:
    """Run the frozen teacher over a split and save its soft targets.

    The distiller of ``cfg`` is built as in training (teacher config,
    strict teacher checkpoint load, preprocessors); each image goes through
    the teacher's own test pipeline (fixed size, no flip) and
    ``KDWSDDistiller.get_soft_targets`` (the configured temperatures); with
    ``flip`` also flipped horizontally with its proposals, and the image
    gets both views' targets, (2, K).
    Progress is saved atomically to ``OUT.partial`` every ``save_every``
    batches; a rerun with the same settings continues from it. The final
    file is written atomically, then the partial file is removed.
    ``reuse_from`` takes the images' soft targets from a finished file of
    the same settings instead of recomputing them, for a split that holds
    another's images under the same names (``mosaic_scenes.py
    --reuse-from``'s larger pool of mosaics): only the images it lacks go
    through the teacher.

    Args:
        cfg (Config): A distillation config (``model.type`` is
            ``KDWSDDistiller``, with ``teacher_ckpt``).
        out (str): Output pickle.
        split (str): Which dataloader's dataset. Defaults to 'train'.
        proposal_file (str, optional): Overrides the split's proposals.
        device (str): Torch device. Defaults to 'cpu'.
        batch_size (int): Images per teacher forward. Defaults to 8.
        num_workers (int): Dataloader workers. Defaults to 2.
        save_every (int): Batches between progress saves. Defaults to 50.
        progress (bool): Show the progress (:class:`Progress`). Defaults
            to True.
        flip (bool): Add the flipped view (``meta['views']``). Defaults to
            False.
        reuse_from (str, optional): A soft-target file of the same settings
            (``meta``) whose targets are kept for the images of the split
            with the same keys: valid only where a key names the same
            image with the same proposals. Defaults to None.

    Returns:
        dict: ``dict(meta=..., targets=...)``, as written.
    """
    if cfg.model.get('type') != 'KDWSDDistiller':
        raise ValueError('cache_soft_targets: the config\'s model must be a '
                         f'KDWSDDistiller, got {cfg.model.get("type")!r}')
    if not cfg.model.get('teacher_ckpt'):
        raise ValueError(
            'cache_soft_targets: model.teacher_ckpt is not set: soft targets '
            'of an untrained teacher are meaningless (--cfg-options '
            'model.teacher_ckpt=PATH)')
    if not flip and split == 'train' and student_flips(cfg):
        print_log(
            'cache_soft_targets: the config flips the student\'s training '
            'images, and these soft targets are of the unflipped view only, '
            'so for half of the steps the student would learn the targets '
            'of a view it does not see; --flip (soft_target_cache=dict('
            'flip=True)) caches both views (docs/benchmarks.md section 1, '
            '"Online and cached soft targets")',
            logger='current',
            level=logging.WARNING)
    # build in the config's scope, as a Runner would
    init_default_scope(cfg.get('default_scope', 'mmkdwsd'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg['pred_distill'] = dict(model_cfg.get('pred_distill') or {})
    model = MODELS.build(model_cfg).to(device).eval()
    dataset = DATASETS.build(_split_dataset_cfg(cfg, split, proposal_file))
    views = [dataset]
    if flip:
        # the same items (annotations and proposals loaded once), the
        # mirrored pipeline
        mirrored = copy.copy(dataset)
        mirrored.pipeline = Compose(teacher_view_pipeline(cfg.model, True))
        views.append(mirrored)
    meta = _meta(cfg, model, split, len(dataset.metainfo['classes']), flip)

    partial = out + '.partial'
    targets = {}
    if osp.exists(partial):
        old = load_soft_target_file(partial)
        if old['meta'] != meta:
            raise SoftTargetError(
                f'{partial} holds work from other settings ({old["meta"]}, '
                f'now {meta}); delete it to start over.')
        targets = old['targets']
        print_log(f'cache_soft_targets: continuing from {partial} '
                  f'({len(targets)} of {len(dataset)} images done)',
                  logger='current')
    keys = [
        soft_target_key(dataset.get_data_info(i)['img_path'])
        for i in range(len(dataset))
    ]
    if reuse_from:
        _reuse_targets(reuse_from, meta, keys, targets)
    todo = [i for i, key in enumerate(keys) if key not in targets]
    loaders = [
        Runner.build_dataloader(
            dict(
                batch_size=batch_size,
                num_workers=num_workers,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=torch.utils.data.Subset(view, todo)))
        for view in views
    ]
    bar = Progress(
        len(dataset),
        f'soft targets ({split})',
        initial=len(dataset) - len(todo),
        enabled=progress)
    start, done = time.perf_counter(), 0
    try:
        for i, batches in enumerate(zip(*loaders)):
            soft, paths = [], []
            for batch in batches:  # the original view, then the flipped one
                data = model.data_preprocessor(
                    dict(
                        inputs=dict(teacher=batch['inputs']),
                        data_samples=dict(teacher=batch['data_samples'])),
                    False)
                samples = data['data_samples']['teacher']
                paths.append([sample.img_path for sample in samples])
                soft.append(
                    model.get_soft_targets(
                        model.get_teacher_outputs(data['inputs']['teacher'],
                                                  samples)).cpu().numpy())
            if paths[-1] != paths[0]:
                raise RuntimeError('cache_soft_targets: the flipped view\'s '
                                   'loader got other images than the '
                                   f'original\'s: {paths[-1]} vs {paths[0]}')
            soft = soft[0] if len(soft) == 1 else np.stack(soft, 1)
            for sample, target in zip(samples, soft):
                targets[soft_target_key(sample.img_path)] = target
            done += len(samples)
            bar.update(len(samples))
            if (i + 1) % save_every == 0:
                atomic_dump_pickle(dict(meta=meta, targets=targets), partial)
    except BaseException:
        # keep what was computed (a bad image, Ctrl-C): the rerun continues
        if done:
            atomic_dump_pickle(dict(meta=meta, targets=targets), partial)
            print_log(
                f'cache_soft_targets: stopped; {len(targets)} images saved '
                f'in {partial}, rerun to continue',
                logger='current',
                level=30)
        raise
    finally:
        bar.close()
    missing = len(dataset) - len(targets)
    if missing:
        raise SoftTargetError(
            f'cache_soft_targets: {missing} image(s) of the {split} split '
            f'got no soft targets; partial results are kept in {partial}')
    result = dict(meta=meta, targets=targets)
    atomic_dump_pickle(result, out)
    # a concurrent run of the same command may have removed it already
    with contextlib.suppress(FileNotFoundError):
        os.remove(partial)
    seconds = time.perf_counter() - start
    print_log(
        f'cache_soft_targets: {len(targets)} images -> {out} ({done} '
        f'computed in {seconds:.1f} s, {done / max(seconds, 1e-9):.1f} '
        'img/s)',
        logger='current')
    return result
