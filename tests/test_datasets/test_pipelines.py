# Copyright (c) mmkdwsd authors. All rights reserved.
"""The MultiDigits dataset configs on a tiny generated set: every view packs
what the models expect, and the two KD views are consistent."""
import os.path as osp

import cv2
import mmengine
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpretrain.structures import DataSample

from mmkdwsd.datasets.multidigits import generate_multidigits
from mmkdwsd.datasets.proposal_methods import sliding_windows
from mmkdwsd.registry import DATASETS

CFG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    '_base_', 'datasets')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('md'))
    generate_multidigits(root, seed=0, progress=False, num_train=6, num_val=3)
    for split, num in (('train', 6), ('val', 3)):
        props = {}
        for i in range(num):
            key = f'{split}/{split}_{i:06d}.png'
            bboxes, scores = sliding_windows(
                cv2.imread(osp.join(root, key)), topk=40)
            props[key] = dict(bboxes=bboxes, scores=scores)
        mmengine.dump(props, osp.join(root, 'proposals', f'ss_{split}.pkl'))
    return root


def _dataset(name, root, split='train', flip=False):
    cfg = Config.fromfile(osp.join(CFG_DIR, f'{name}.py'))
    ds_cfg = cfg[f'{split}_dataloader']['dataset']
    ds_cfg['data_root'] = root
    if flip:
        # MultiDigits trains without flips (a mirrored digit is another
        # digit); COCO/VOC/NUS-WIDE flip: check the mechanism they use.
        ds_cfg['pipeline'].insert(
            2,
            dict(
                type='mmdet.ProposalBroadcaster',
                transforms=[dict(type='mmdet.RandomFlip', prob=0.5)]))
    return DATASETS.build(ds_cfg), cfg


def _raw(ds, idx):
    info = ds.get_data_info(idx)
    return info, cv2.imread(info['img_path'])


def test_wsod_train_view(data_root):
    ds, cfg = _dataset('multidigits_wsod', data_root, flip=True)
    for idx in range(len(ds)):
        info, _ = _raw(ds, idx)
        out = ds[idx]
        sample = out['data_samples']
        assert isinstance(sample, DetDataSample)
        h, w = sample.img_shape
        assert h == w and h in cfg.teacher_train_scales
        assert out['inputs'].shape == (3, h, w)
        assert sample.gt_label.dtype == torch.long
        assert sample.gt_label.tolist() == info['gt_label'].tolist()
        assert sample.gt_label_ignore.shape == (0, )
        assert 'bboxes' not in sample.gt_instances  # no boxes in training
        expected = info['proposals']['bboxes'] * h / 128
        if sample.flip:
            expected[:, [0, 2]] = w - expected[:, [2, 0]]
        np.testing.assert_allclose(
            sample.proposals.bboxes.numpy(), expected, atol=1e-3)
        np.testing.assert_array_equal(sample.proposals.scores.numpy(),
                                      info['proposals']['scores'])


def test_wsod_val_view_keeps_original_box_coordinates(data_root):
    ds, cfg = _dataset('multidigits_wsod', data_root, 'val')
    info, _ = _raw(ds, 0)
    sample = ds[0]['data_samples']
    assert sample.img_shape == (cfg.teacher_scale, cfg.teacher_scale)
    np.testing.assert_allclose(sample.gt_instances.bboxes.numpy(),
                               [i['bbox'] for i in info['instances']])


def test_mlc_view(data_root):
    ds, cfg = _dataset('multidigits_mlc', data_root)
    info, _ = _raw(ds, 1)
    out = ds[1]
    assert isinstance(out['data_samples'], DataSample)
    assert out['inputs'].shape == (3, cfg.student_scale, cfg.student_scale)
    assert out['data_samples'].gt_label.tolist() == info['gt_label'].tolist()


def test_kd_views_are_consistent(data_root):
    ds, cfg = _dataset('multidigits_kd', data_root, flip=True)
    seen_flips = set()
    for _ in range(3):
        for idx in range(len(ds)):
            info, raw = _raw(ds, idx)
            out = ds[idx]
            teacher, student = (
                out['data_samples'][k] for k in ('teacher', 'student'))
            assert isinstance(teacher, DetDataSample)
            assert isinstance(student, DataSample)
            assert teacher.flip == student.flip
            seen_flips.add(teacher.flip)
            assert teacher.img_shape == (cfg.teacher_scale, cfg.teacher_scale)
            assert student.img_shape == (cfg.student_scale, cfg.student_scale)
            assert teacher.gt_label.tolist() == student.gt_label.tolist() \
                == info['gt_label'].tolist()
            # both images are resizes of the same (flipped) image
            src = raw[:, ::-1] if teacher.flip else raw
            for key, size in (('teacher', cfg.teacher_scale),
                              ('student', cfg.student_scale)):
                expect = cv2.resize(src, (size, size))
                got = out['inputs'][key].permute(1, 2, 0).numpy()
                assert np.abs(got.astype(int) - expect).mean() < 1.0
            # teacher proposals mapped to the student input by img_shape
            ratio = student.img_shape[1] / teacher.img_shape[1]
            mapped = teacher.proposals.bboxes.numpy() * ratio
            expected = info['proposals']['bboxes'] * cfg.student_scale / 128
            if student.flip:
                expected[:, [0, 2]] = cfg.student_scale - expected[:, [2, 0]]
            np.testing.assert_allclose(mapped, expected, atol=1e-3)
    assert seen_flips == {True, False}
    batch = pseudo_collate([ds[0], ds[1]])
    assert set(batch['inputs']) == {'teacher', 'student'}
    assert len(batch['data_samples']['student']) == 2


@pytest.mark.parametrize('name', [
    'coco14_wsod', 'coco14_mlc', 'coco14_kd', 'voc07_wsod', 'voc07_mlc',
    'voc07_kd', 'nuswide_wsod', 'nuswide_mlc', 'nuswide_kd',
    'multidigits_wsod', 'multidigits_mlc', 'multidigits_kd'
])
def test_all_dataset_configs_build_their_pipelines(name):
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope
    init_default_scope('mmkdwsd')
    cfg = Config.fromfile(osp.join(CFG_DIR, f'{name}.py'))
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        assert DATASETS.get(loader['dataset']['type']) is not None
        Compose(loader['dataset']['pipeline'])
    assert cfg.val_evaluator['type'] in ('MultiLabelPaperMetric', 'WSODMetric')
