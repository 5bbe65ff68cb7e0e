# Copyright (c) mmkdwsd authors. All rights reserved.
import os
import os.path as osp
import re

import numpy as np
import pytest

from mmkdwsd.registry import DATASETS
from .utils import write_nuswide, write_voc

VOC_OBJECTS = {
    '000005': [('chair', 0, (10, 20, 30, 40)), ('chair', 1, (1, 1, 5, 5)),
               ('person', 1, (2, 3, 50, 45))],
    '000007': [('car', 0, (1, 2, 60, 50))],
}


def _voc(root, **kwargs):
    return DATASETS.build(
        dict(type='VOCMultiLabelDataset', data_root=str(root), **kwargs))


def test_voc_difficult_and_instances(tmp_path):
    write_voc(str(tmp_path), VOC_OBJECTS)
    ds = _voc(tmp_path)
    classes = ds.metainfo['classes']
    assert len(classes) == 20
    chair, person, car = (classes.index(c) for c in ('chair', 'person', 'car'))
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(
        str(tmp_path), 'JPEGImages', '000005.jpg')
    assert (info['img_id'], info['height'], info['width']) == ('000005', 50,
                                                               60)
    assert info['gt_label'].tolist() == [chair]
    assert info['gt_label_ignore'].tolist() == [person]
    assert info['instances'][0] == dict(
        bbox=[9.0, 19.0, 29.0, 39.0], bbox_label=chair, ignore_flag=0)
    assert [i['ignore_flag'] for i in info['instances']] == [0, 1, 1]
    assert ds.get_data_info(1)['gt_label'].tolist() == [car]


def test_voc_errors_name_the_file(tmp_path):
    write_voc(str(tmp_path), {'000001': [('unicorn', 0, (1, 1, 5, 5))]})
    xml = osp.join(str(tmp_path), 'Annotations', '000001.xml')
    with pytest.raises(
            ValueError,
            match="Unknown class 'unicorn' in VOC "
            f'annotation {re.escape(xml)}'):
        _voc(tmp_path)
    with open(xml, 'w') as f:
        f.write('<annotation><object>')
    with pytest.raises(ValueError, match=f'{re.escape(xml)} is not valid xml'):
        _voc(tmp_path)
    os.remove(xml)
    with pytest.raises(
            FileNotFoundError,
            match=f'VOC annotation not found: {re.escape(xml)}'):
        _voc(tmp_path)
    with pytest.raises(FileNotFoundError, match='test.txt'):
        _voc(tmp_path, ann_file='ImageSets/Main/test.txt')


CONCEPTS = ['animal', 'sky', 'water']
NAMES = ['actor\\0001_1.jpg', 'actor\\0002_2.jpg', 'zebra\\0003_3.jpg']
LABELS = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 0]])


def _nus(root, **kwargs):
    return DATASETS.build(
        dict(type='NUSWideDataset', data_root=str(root), **kwargs))


def test_nuswide_layout(tmp_path):
    write_nuswide(str(tmp_path), CONCEPTS, NAMES, LABELS)
    ds = _nus(tmp_path)
    assert ds.metainfo['classes'] == tuple(CONCEPTS)
    assert len(ds) == 3
    info = ds.get_data_info(2)
    assert info['img_path'] == osp.join(
        str(tmp_path), 'Flickr', 'zebra', '0003_3.jpg')
    assert info['img_id'] == 'zebra/0003_3.jpg'
    assert (info['height'], info['width']) == (32, 40)
    assert info['gt_label'].tolist() == [0, 1]
    assert ds.get_data_info(1)['gt_label'].tolist() == []
    assert info['instances'] == []


def test_nuswide_count_mismatch_names_file_and_counts(tmp_path):
    write_nuswide(str(tmp_path), CONCEPTS, NAMES, LABELS)
    path = osp.join(
        str(tmp_path), 'Groundtruth', 'TrainTestLabels',
        'Labels_sky_Train.txt')
    with open(path, 'w') as f:
        f.write('0\n1\n')
    with pytest.raises(
            ValueError,
            match=f'NUS-WIDE label file {re.escape(path)} has 2 lines but the'
            r' image list .*TrainImagelist\.txt has 3 images'):
        _nus(tmp_path)
    with open(path, 'w') as f:
        f.write('0\n1 0\n1\n')
    with pytest.raises(
            ValueError,
            match=f'{re.escape(path)}, line 2: expected a single '
            "0 or 1, found '1 0'"):
        _nus(tmp_path)
    os.remove(path)
    with pytest.raises(
            FileNotFoundError,
            match=f'NUS-WIDE label file not found: '
            f'{re.escape(path)}'):
        _nus(tmp_path)
    with pytest.raises(FileNotFoundError, match='TestImagelist.txt'):
        _nus(tmp_path, split='test')


def test_nuswide_missing_image(tmp_path):
    write_nuswide(str(tmp_path), CONCEPTS, NAMES, LABELS)
    img = osp.join(str(tmp_path), 'Flickr', 'actor', '0002_2.jpg')
    os.remove(img)
    with pytest.raises(
            FileNotFoundError,
            match=f'NUS-WIDE image not found: {re.escape(img)}'):
        _nus(tmp_path)
    ds = _nus(tmp_path, skip_missing=True)
    assert len(ds) == 2
    assert ds.get_data_info(1)['img_id'] == 'zebra/0003_3.jpg'
