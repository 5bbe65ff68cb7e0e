# Copyright (c) mmkdwsd authors. All rights reserved.
import os.path as osp
import re

import mmengine
import numpy as np
import pytest

from mmkdwsd.datasets import CocoMultiLabelDataset, ProposalError
from mmkdwsd.registry import DATASETS
from .utils import write_coco


def _build(root, **kwargs):
    cfg = dict(
        type='CocoMultiLabelDataset',
        data_root=str(root),
        ann_file='ann.json',
        data_prefix=dict(img='img/'))
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def _proposals(n=3, w=40, h=32):
    boxes = np.array([[0, 0, w, h], [1, 1, 10, 10], [5, 5, 20, 30]],
                     dtype=np.float32)[:n]
    return dict(bboxes=boxes, scores=np.linspace(1, 0.5, n, dtype=np.float32))


def test_data_info_contract(tmp_path):
    write_coco(str(tmp_path))
    ds = _build(tmp_path)
    assert isinstance(ds, CocoMultiLabelDataset)
    # categories sorted by id: 1 person -> 0, 3 cat -> 1
    assert ds.metainfo['classes'] == ('person', 'cat')
    assert len(ds) == 3
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(str(tmp_path), 'img', 'a.png')
    assert (info['img_id'], info['height'], info['width']) == (1, 32, 40)
    assert info['gt_label'].dtype == np.int64
    assert info['gt_label'].tolist() == [0, 1]
    assert info['gt_label_ignore'].shape == (0, )
    assert info['instances'] == [
        dict(bbox=[1, 2, 11, 10], bbox_label=1, ignore_flag=0),
        dict(bbox=[5, 5, 25, 25], bbox_label=0, ignore_flag=1),
    ]
    assert 'proposals' not in info
    # image without annotations kept, empty label set
    assert ds.get_data_info(2)['gt_label'].tolist() == []
    assert ds.get_cat_ids(1) == [1]


def test_filter_empty_and_class_subset(tmp_path):
    write_coco(str(tmp_path))
    assert len(_build(tmp_path, filter_empty=True)) == 2
    ds = _build(tmp_path, metainfo=dict(classes=('cat', )))
    assert ds.metainfo['classes'] == ('cat', )
    assert ds.get_data_info(0)['gt_label'].tolist() == [0]
    with pytest.raises(ValueError, match=r"Classes \['dog'\] are not"):
        _build(tmp_path, metainfo=dict(classes=('dog', )))


def test_broken_json_names_the_file(tmp_path):
    path = write_coco(str(tmp_path))
    with open(path, 'w') as f:
        f.write('{"images": [')
    with pytest.raises(
            ValueError,
            match=f'Annotation file {re.escape(path)} is not '
            'valid json'):
        _build(tmp_path)
    with pytest.raises(FileNotFoundError, match='nope.json'):
        _build(tmp_path, ann_file='nope.json')
    with open(path, 'w') as f:
        f.write('{"annotations": []}')
    with pytest.raises(ValueError, match="has no 'images' list"):
        _build(tmp_path)


def test_unknown_category_names_file_and_image(tmp_path):
    path = write_coco(
        str(tmp_path),
        annotations=[
            dict(
                id=7,
                image_id=2,
                category_id=99,
                bbox=[0, 0, 4, 4],
                iscrowd=0,
                area=16)
        ])
    with pytest.raises(
            ValueError,
            match=r'Annotation 7 of image .*b\.png \(id=2\) in '
            f'{re.escape(path)} has unknown category_id 99'):
        _build(tmp_path)


def test_proposals_attached_and_checked(tmp_path):
    write_coco(str(tmp_path))
    props = {f'img/{n}': _proposals() for n in ('a.png', 'b.png', 'c.png')}
    pfile = str(tmp_path / 'props.pkl')
    mmengine.dump(props, pfile)
    info = _build(tmp_path, proposal_file='props.pkl').get_data_info(0)
    assert info['proposals']['bboxes'].dtype == np.float32
    assert info['proposals']['bboxes'].shape == (3, 4)
    assert info['proposals']['scores'].shape == (3, )

    def expect(props, match, **kwargs):
        mmengine.dump(props, pfile)
        with pytest.raises(ProposalError, match=match):
            _build(tmp_path, proposal_file='props.pkl', **kwargs)

    missing = dict(props)
    missing.pop('img/b.png')
    expect(
        missing, r"No proposals for image 'img/b.png' \(img_id=2\) in "
        f'proposal file {re.escape(pfile)}')
    bad_shape = dict(
        props,
        **{'img/a.png': dict(bboxes=np.zeros((3, 5)), scores=np.zeros(3))})
    expect(
        bad_shape, r"image 'img/a.png' .* must have shape \(n, 4\), "
        r'found \(3, 5\)')
    outside = dict(props, **{'img/c.png': _proposals(w=80)})
    expect(
        outside, r"1 proposal\(s\) of image 'img/c.png' in proposal file"
        r' .* outside the image \(width 40, height 32')
    empty = dict(
        props,
        **{'img/a.png': dict(bboxes=np.zeros((0, 4)), scores=np.zeros(0))})
    expect(empty, "No proposals for image 'img/a.png'")
    mmengine.dump(empty, pfile)
    info = _build(
        tmp_path, proposal_file='props.pkl',
        allow_empty_proposals=True).get_data_info(0)
    assert info['proposals']['bboxes'].shape == (0, 4)
    with pytest.raises(
            FileNotFoundError, match='Proposal file not found: '
            '.*none.pkl'):
        _build(tmp_path, proposal_file='none.pkl')


def test_label_outside_class_range_names_file_and_image(tmp_path):
    write_coco(str(tmp_path))
    ds = _build(tmp_path, lazy_init=True)
    items = ds.load_items()
    items[1]['gt_label'] = np.array([5])
    ds.load_items = lambda: items
    with pytest.raises(
            ValueError,
            match=r'gt_label \[5\] of image .*b\.png \(img_id=2\)'
            r' in .*ann\.json is outside \[0, 2\)'):
        ds.full_init()
