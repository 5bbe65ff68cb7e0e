# Copyright (c) mmkdwsd authors. All rights reserved.
"""Every config under configs/ loads, builds, and keeps the mode contract:
``loss`` returns a dict of finite ``loss`` terms and ``predict`` returns one
sample per image. Each config's own pipelines run on a tiny MultiDigits set
with their image sizes shrunk to 64 px (the models keep their real
architectures)."""
import copy
import glob
import json
import os.path as osp

import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import FUNCTIONS
from torch.utils.data import DataLoader

from mmkdwsd.registry import DATASETS, MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p and osp.join('configs', 'deploy') not in p)
SIZE = 64


def _shrink(obj):
    """Replace every image size in a pipeline by ``SIZE``."""
    if isinstance(obj, list):
        return [_shrink(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _shrink(v) for k, v in obj.items()}
    for key in ('scale', 'crop_size'):
        if key in out and out[key] is not None:
            out[key] = SIZE if isinstance(out[key], int) else (SIZE, SIZE)
    if 'scales' in out:
        out['scales'] = [(SIZE, SIZE)]
    return out


def _tiny_dataset(loader_cfg, root: str, split: str, test_mode: bool):
    ds = loader_cfg['dataset']
    wrapper = ds if ds.get('type') == 'PreDecodedDataset' else None
    while 'pipeline' not in ds and 'dataset' in ds:  # dataset wrappers
        ds = ds['dataset']
    tiny = dict(
        type='CocoMultiLabelDataset',
        data_root=root,
        ann_file=f'annotations/instances_{split}.json',
        data_prefix=dict(img=f'{split}/'),
        pipeline=_shrink(ds['pipeline']),
        test_mode=test_mode)
    if ds.get('proposal_file'):
        tiny['proposal_file'] = f'proposals/ss_{split}.pkl'
    if ds.get('soft_target_file'):  # cached teacher soft targets
        tiny['soft_target_file'] = _random_soft_targets(root, split)
    if wrapper is not None:  # the fast path: decoded once, whole batches
        return DATASETS.build(
            dict(
                type='PreDecodedDataset',
                dataset=tiny,
                num_max_proposals=wrapper.get('num_max_proposals')))
    return DATASETS.build(tiny)


def _random_soft_targets(root: str, split: str) -> str:
    """A soft-target file of random values for the tiny set's split."""
    path = osp.join(root, 'soft_targets', f'random_{split}.pkl')
    if not osp.exists(path):
        with open(osp.join(root, 'annotations',
                           f'instances_{split}.json')) as f:
            images = json.load(f)['images']
        rng = np.random.default_rng(0)
        mmengine.dump(
            dict(
                meta=dict(num_classes=10),
                targets={
                    f'{split}/{img["file_name"]}':
                    rng.random(10).astype(np.float32)
                    for img in images
                }),
            path,
            file_format='pkl')
    return path


def _batch(loader_cfg, root, split, test_mode):
    dataset = _tiny_dataset(loader_cfg, root, split, test_mode)
    # the config's own collate function (stack_collate in the shipped ones)
    collate = loader_cfg.get('collate_fn', dict(type='pseudo_collate'))
    collate_fn = FUNCTIONS.get(collate['type'])
    assert collate_fn is not None, collate
    loader = DataLoader(dataset, batch_size=2, collate_fn=collate_fn)
    return next(iter(loader))


def test_configs_found():
    names = {osp.basename(osp.dirname(p)) for p in CONFIGS}
    assert {'wsddn', 'mlc', 'kdwsd'} <= names, names


@pytest.mark.parametrize('cfg_path', CONFIGS, ids=CONFIGS)
def test_config_mode_contract(cfg_path, tiny_multidigits):
    cfg = Config.fromfile(osp.join(ROOT, cfg_path))
    assert cfg.default_scope == 'mmkdwsd'
    model_cfg = copy.deepcopy(cfg.model)
    if 'teacher_ckpt' in model_cfg:
        model_cfg['teacher_ckpt'] = None  # no trained teacher here
    preprocessor = model_cfg.get('data_preprocessor') or {}
    if preprocessor.get('type') == 'PreDecodedDataPreprocessor':
        model_cfg['data_preprocessor'] = _shrink(preprocessor)
    model = MODELS.build(model_cfg)

    torch.manual_seed(0)
    model.train()
    batch = _batch(cfg.train_dataloader, tiny_multidigits, 'train', False)
    for sample in batch.get('data_samples', []):
        # the tiny set has 10 classes: cached soft targets as wide as the
        # config's model (80 for COCO), as the real dataset would give them
        if 'soft_target' in sample:
            sample.soft_target = torch.rand(model.num_classes)
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    assert isinstance(losses, dict) and losses
    assert any('loss' in key for key in losses), losses
    for key, value in losses.items():
        # loss terms, and logged values MMEngine does not add (kd_scale)
        assert 'loss' in key or key == 'distill.kd_scale', key
        values = value if isinstance(value, (list, tuple)) else [value]
        assert all(torch.isfinite(v).all() for v in values), key

    loader_cfg = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if loader_cfg is None:  # e.g. distillation stage 1 trains features only
        return
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(
            _batch(loader_cfg, tiny_multidigits, 'val', True), False)
        preds = model(**data, mode='predict')
    assert isinstance(preds, list) and len(preds) == 2
    assert all(hasattr(p, 'pred_score') for p in preds)


@pytest.mark.parametrize('cfg_name', [
    'resnet18-tiny_1xb64-30e_multidigits-large-64px.py',
    'kdwsd-stage2-feat_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_'
    'multidigits-large-64px.py'
])
def test_benchmark_gem_survives_large_p(cfg_name):
    """The benchmark students' GeM keeps finite gradients where the learnable
    exponent drifts in long runs (p = 8) and a channel is dead (all zero
    after ReLU); with mmpretrain's default eps 1e-6 the gradient of p is NaN
    there (a 48-epoch CPU run stopped on it)."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs/benchmarks', cfg_name))
    model_cfg = cfg.model.get('student', cfg.model)
    for eps, finite in ((None, True), (1e-6, False)):
        neck_cfg = copy.deepcopy(model_cfg.neck)
        if eps is not None:
            neck_cfg.eps = eps
        neck = MODELS.build(neck_cfg)
        with torch.no_grad():
            neck.p.fill_(8.0)
        feats = torch.rand(2, 4, 8, 8)
        feats[:, 3] = 0  # a dead channel
        neck(feats).sum().backward()
        assert bool(torch.isfinite(neck.p.grad).all()) is finite, eps


@pytest.mark.parametrize('stage2', [
    'kdwsd-stage2', 'kdwsd-stage2-cached', 'kdwsd-stage2-feat',
    'kdwsd-stage2-feat-cached', 'kdwsd-stage2-cached-t1',
    'kdwsd-stage2-feat-cached-t1'
])
def test_benchmark_stage2_trains_the_baseline_schedule(stage2):
    """The staged benchmark students get the baseline's full label schedule
    in stage 2 (stage 1 trains no head): on the large preset a stage 2 of
    half the baseline's epochs ended below the baseline (54.7 against 58.6
    mAP), a full one above it (docs/benchmarks.md section 1)."""
    tail = 'multidigits-large-64px.py'
    base = Config.fromfile(
        osp.join(ROOT, 'configs/benchmarks',
                 f'resnet18-tiny_1xb64-30e_{tail}'))
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/benchmarks',
                 f'{stage2}_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_'
                 f'{tail}'))
    assert cfg.train_cfg.max_epochs == base.train_cfg.max_epochs == 30
    assert cfg.param_scheduler == base.param_scheduler
    assert cfg.optim_wrapper.optimizer == base.optim_wrapper.optimizer


@pytest.mark.parametrize('baseline, distiller', [
    ('mlc/resnet18-tiny_1xb8-12e_multidigits-32px.py',
     'kdwsd/kdwsd-stage2-feat_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_'
     'multidigits-32px.py'),
    ('benchmarks/resnet18-tiny_1xb64-30e_multidigits-large-64px.py',
     'benchmarks/kdwsd_wsddn-resnet18-tiny_resnet18-tiny_1xb64-30e_'
     'multidigits-large-64px.py'),
    ('mlc/vgg16_8xb32-20e_coco14-224px.py',
     'kdwsd/kdwsd_wsddn-vgg16_vgg16_8xb16-20e_coco14-224px.py'),
])
def test_distilled_student_is_the_baseline_network(baseline, distiller):
    """Distillation costs nothing at inference: the student a distiller
    config trains (and exports) is the baseline config's network, module
    for module and weight shape for weight shape."""
    def network(model):  # the data preprocessor (training input) aside
        return ([
            type(m).__name__ for name, m in model.named_modules()
            if not name.startswith('data_preprocessor')
        ], {k: tuple(v.shape)
            for k, v in model.state_dict().items()})

    base_cfg = Config.fromfile(osp.join(ROOT, 'configs', baseline)).model
    _drop_init(base_cfg)
    kd_cfg = Config.fromfile(osp.join(ROOT, 'configs', distiller)).model
    kd_cfg.teacher_ckpt = None
    _drop_init(kd_cfg)
    student = MODELS.build(kd_cfg).student
    assert network(student) == network(MODELS.build(base_cfg))


def _drop_init(cfg):
    """No pretrained weights to load here (nothing can be downloaded)."""
    if isinstance(cfg, dict):
        if isinstance(cfg.get('init_cfg'), dict) and \
                cfg['init_cfg'].get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for value in cfg.values():
            _drop_init(value)
