# Copyright (c) mmkdwsd authors. All rights reserved.
import re

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes

from mmkdwsd.datasets.transforms import ImageReadError
from mmkdwsd.registry import DATASETS, TRANSFORMS
from .utils import write_coco, write_image


def test_pack_wsod_inputs():
    pack = TRANSFORMS.build(dict(type='PackWSODInputs'))
    results = dict(
        img=np.zeros((20, 30, 3), np.uint8),
        img_id=4,
        img_path='x.png',
        ori_shape=(10, 15),
        img_shape=(20, 30),
        scale_factor=(2.0, 2.0),
        flip=True,
        flip_direction='horizontal',
        proposals=np.array([[0, 0, 10, 10], [2, 2, 8, 8]], np.float32),
        proposals_scores=np.array([1.0, 0.5], np.float32),
        gt_label=np.array([1, 3]),
        gt_label_ignore=np.array([2]))
    out = pack(results)
    assert out['inputs'].shape == (3, 20, 30)
    sample = out['data_samples']
    assert sample.gt_label.dtype == torch.long
    assert sample.gt_label.tolist() == [1, 3]
    assert sample.gt_label_ignore.tolist() == [2]
    assert sample.proposals.bboxes.shape == (2, 4)
    assert sample.proposals.scores.tolist() == [1.0, 0.5]
    assert sample.img_shape == (20, 30) and sample.flip
    assert sample.scale_factor == (2.0, 2.0)
    # proposals as boxes, no scores, no labels
    results.update(proposals=HorizontalBoxes(results['proposals']))
    for key in ('proposals_scores', 'gt_label', 'gt_label_ignore'):
        results.pop(key)
    sample = pack(results)['data_samples']
    assert sample.proposals.scores.tolist() == [1.0, 1.0]
    assert sample.gt_label.shape == (0, ) and sample.gt_label.dtype == \
        torch.long


def _item(tmp_path):
    write_coco(str(tmp_path))
    ds = DATASETS.build(
        dict(
            type='CocoMultiLabelDataset',
            data_root=str(tmp_path),
            ann_file='ann.json',
            data_prefix=dict(img='img/'),
            pipeline=[dict(type='LoadImageSafe', skip_bad=True)]))
    return ds


def test_load_image_safe_errors_name_the_file(tmp_path):
    load = TRANSFORMS.build(dict(type='LoadImageSafe'))
    path = write_image(str(tmp_path / 'ok.png'))
    assert load(dict(img_path=path))['img'].shape == (32, 40, 3)
    missing = str(tmp_path / 'missing.png')
    with pytest.raises(
            ImageReadError,
            match=f'Cannot read image {re.escape(missing)} '
            r'\(file not found\)'):
        load(dict(img_path=missing))
    corrupt = tmp_path / 'corrupt.png'
    corrupt.write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    with pytest.raises(
            ImageReadError,
            match=f'Cannot read image {re.escape(str(corrupt))}'
            '.*skip_bad=True'):
        load(dict(img_path=str(corrupt)))


def test_skip_bad_images_in_training(tmp_path, log_messages):
    ds = _item(tmp_path)
    bad = ds.get_data_info(1)['img_path']
    with open(bad, 'wb') as f:
        f.write(b'not an image')
    with log_messages() as messages:
        out = ds[1]  # training mode: another image is drawn instead
    assert out['img_path'] != bad
    log = '\n'.join(messages)
    assert f'LoadImageSafe: skipped unreadable image {bad}' in log
    assert '; 1 skipped so far in this process.' in log
    ds.test_mode = True
    with pytest.raises(Exception, match='should not get `None`'):
        ds[1]
