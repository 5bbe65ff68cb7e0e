# Copyright (c) mmkdwsd authors. All rights reserved.
"""Cached teacher soft targets attached by the datasets
(``soft_target_file``), packed for the student, and their errors."""
import re

import mmengine
import numpy as np
import pytest
import torch

from mmkdwsd.datasets import SoftTargetError
from mmkdwsd.registry import DATASETS
from .utils import write_coco

TARGETS = {
    'img/a.png': [0.9, 0.2],
    'img/b.png': [0.1, 0.8],
    'img/c.png': [0.0, 1.0],
}


def _write(root, targets=None, meta=None, name='soft.pkl'):
    targets = TARGETS if targets is None else targets
    content = dict(
        meta=dict(num_classes=2, cls_temperature=0.5, det_temperature=0.5)
        if meta is None else meta,
        targets={k: np.asarray(v, np.float32)
                 for k, v in targets.items()})
    path = str(root / name)
    mmengine.dump(content, path, file_format='pkl')
    return path


def _build(root, soft_target_file='soft.pkl', pipeline=()):
    return DATASETS.build(
        dict(
            type='CocoMultiLabelDataset',
            data_root=str(root),
            ann_file='ann.json',
            data_prefix=dict(img='img/'),
            soft_target_file=soft_target_file,
            pipeline=list(pipeline)))


def test_attached_and_packed(tmp_path):
    write_coco(str(tmp_path))
    _write(tmp_path)
    ds = _build(tmp_path)
    for i, key in enumerate(TARGETS):
        info = ds.get_data_info(i)
        assert info['soft_target'].dtype == np.float32
        np.testing.assert_allclose(info['soft_target'], TARGETS[key])
    # mmpretrain's PackInputs hands it to the student's DataSample
    ds = _build(
        tmp_path,
        pipeline=[
            dict(type='LoadImageSafe'),
            dict(type='mmpretrain.PackInputs', algorithm_keys=['soft_target'])
        ])
    sample = ds[1]['data_samples']
    torch.testing.assert_close(
        torch.as_tensor(sample.soft_target), torch.tensor([0.1, 0.8]))
    assert sample.gt_label.tolist() == [1]


def test_flipped_view_attached_and_picked(tmp_path):
    """A file cached with the flipped view gives each image (2, K); the
    student's samples get the row of the view they saw (``flip``)."""
    from mmpretrain.structures import DataSample

    from mmkdwsd.models.losses import stack_soft_targets
    write_coco(str(tmp_path))
    both = {k: [v, v[::-1]] for k, v in TARGETS.items()}
    _write(tmp_path, both, dict(num_classes=2, views=['original', 'hflip']))
    ds = _build(tmp_path)
    infos = [ds.get_data_info(i) for i in range(3)]
    assert infos[0]['soft_target'].shape == (2, 2)
    metas = (dict(flip=False), dict(flip=True), {})  # the last: no flip key
    samples = []
    for info, meta in zip(infos, metas):
        sample = DataSample(metainfo=meta)
        sample.soft_target = torch.as_tensor(info['soft_target'])
        samples.append(sample)
    picked = stack_soft_targets(samples, torch.zeros(3, 2))
    torch.testing.assert_close(
        picked, torch.tensor([[0.9, 0.2], [0.8, 0.1], [0.0, 1.0]]))


@pytest.mark.parametrize(
    'targets, meta, message',
    [
        ({k: v for k, v in TARGETS.items() if k != 'img/b.png'}, None,
         "No soft targets for image 'img/b.png' (img_id=2) in soft-target "
         'file {path} (2 images)'),
        (dict(TARGETS, **{'img/b.png': [0.1, 0.2, 0.3]}), None,
         "Soft targets of image 'img/b.png' in soft-target file {path} have "
         '3 values; expected (2,) (the dataset has 2 classes, the file 1 '
         'view(s) per image)'),
        (TARGETS, dict(num_classes=2, views=['original', 'hflip']),
         "Soft targets of image 'img/a.png' in soft-target file {path} have "
         '2 values; expected (2, 2) (the dataset has 2 classes, the file 2 '
         'view(s) per image)'),
        (TARGETS, dict(num_classes=2, views=['original', 'vflip']),
         "{path}: Soft-target meta 'views' must be ['original', 'hflip'] (or "
         "absent), found ['original', 'vflip']"),
        (dict(TARGETS, **{'img/c.png': [0.5, 1.5]}), None,
         "Soft targets of image 'img/c.png' in soft-target file {path} must "
         'be finite and inside [0, 1]'),
        (dict(TARGETS, **{'img/a.png': [float('nan'), 0.5]}), None,
         'must be finite'),
        (TARGETS, dict(num_classes=80),
         'Soft-target file {path} was computed for 80 classes; the dataset '
         'has 2'),
    ],
    ids=['missing-image', 'wrong-length', 'one-view-in-a-flip-file',
         'unknown-views', 'out-of-range', 'nan', 'class-count'])
def test_mismatch_names_file_and_image(tmp_path, targets, meta, message):
    write_coco(str(tmp_path))
    path = _write(tmp_path, targets, meta)
    with pytest.raises(SoftTargetError,
                       match=re.escape(message.format(path=path))):
        _build(tmp_path)


def test_bad_files(tmp_path):
    write_coco(str(tmp_path))
    with pytest.raises(
            FileNotFoundError,
            match=re.escape(f'Soft-target file not found: {tmp_path}/none.pkl'
                            '. Compute it with tools/cache_soft_targets.py')):
        _build(tmp_path, 'none.pkl')
    # a proposal file given by mistake: a plain dict of boxes
    mmengine.dump({'img/a.png': dict(bboxes=np.zeros((1, 4)))},
                  str(tmp_path / 'props.pkl'))
    with pytest.raises(
            SoftTargetError,
            match=re.escape(f'Soft-target file {tmp_path}/props.pkl must '
                            'hold dict(meta=dict, targets=')):
        _build(tmp_path, 'props.pkl')
    (tmp_path / 'broken.pkl').write_bytes(b'\x80\x04not a pickle')
    with pytest.raises(
            SoftTargetError,
            match=re.escape(
                f'Cannot read soft-target file {tmp_path}/broken.pkl')):
        _build(tmp_path, 'broken.pkl')
