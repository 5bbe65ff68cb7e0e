# Copyright (c) mmkdwsd authors. All rights reserved.
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmkdwsd.datasets import multidigits
from mmkdwsd.datasets.multidigits import generate_multidigits
from mmkdwsd.registry import DATASETS

TINY = dict(num_train=12, num_val=6)


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('md'))
    paths = generate_multidigits(out, seed=3, progress=False, **TINY)
    return out, paths


def test_json_loads_with_pycocotools_and_dataset(tiny):
    from pycocotools.coco import COCO
    out, paths = tiny
    coco = COCO(paths['train'])
    assert len(coco.getImgIds()) == 12
    assert sorted(c['name'] for c in coco.loadCats(coco.getCatIds())) == [
        str(d) for d in range(10)
    ]
    small = multidigits.get_preset('small')
    ds = DATASETS.build(
        dict(
            type='CocoMultiLabelDataset',
            data_root=out,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/')))
    assert ds.metainfo['classes'] == tuple(str(d) for d in range(10))
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        anns = coco.imgToAnns[info['img_id']]
        assert 1 <= len(anns) <= small['max_digits']
        assert info['gt_label'].tolist() == sorted(
            {a['category_id'] - 1
             for a in anns})
        img = cv2.imread(info['img_path'])
        assert img.shape == (128, 128, 3)
        for inst in info['instances']:
            x1, y1, x2, y2 = inst['bbox']
            assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 128
            # tight ink box of a digit drawn at 28-48 px
            assert (small['min_digit_size'] // 2 <= max(x2 - x1, y2 - y1) <=
                    small['max_digit_size'])


def test_same_seed_is_byte_identical(tiny, tmp_path):
    out, paths = tiny
    again = generate_multidigits(str(tmp_path), seed=3, progress=False, **TINY)
    for split in ('train', 'val'):
        assert _read(paths[split]) == _read(again[split])
    assert _read(osp.join(out, 'val', 'val_000005.png')) == _read(
        str(tmp_path / 'val' / 'val_000005.png'))
    other = generate_multidigits(
        str(tmp_path / 'o'), seed=4, progress=False, **TINY)
    assert _read(paths['train']) != _read(other['train'])


def test_train_and_val_share_no_source_digit(tiny):
    _, paths = tiny
    used = {}
    for split, path in paths.items():
        with open(path) as f:
            data = json.load(f)
        used[split] = set(data['info']['source_indices'])
        assert used[split] == {a['source_index'] for a in data['annotations']}
        assert data['info']['seed'] == 3
    assert used['train'] and used['val']
    assert not used['train'] & used['val']
    train_pool, val_pool = multidigits.split_source_digits(1797, 0.3, 3)
    assert used['train'] <= set(train_pool.tolist())
    assert used['val'] <= set(val_pool.tolist())
    assert not set(train_pool.tolist()) & set(val_pool.tolist())


def test_killed_run_leaves_no_complete_looking_json(tmp_path, monkeypatch):
    paths = generate_multidigits(str(tmp_path), progress=False, **TINY)
    good = _read(paths['train'])
    calls = []

    def dying(task):
        calls.append(task)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(task)

    real = multidigits._render_and_save
    monkeypatch.setattr(multidigits, '_render_and_save', dying)
    with pytest.raises(KeyboardInterrupt):
        generate_multidigits(str(tmp_path), progress=False, **TINY)
    assert not osp.exists(paths['train'])
    assert not [
        n for n in os.listdir(tmp_path / 'annotations') if n.endswith('.tmp')
    ]
    monkeypatch.setattr(multidigits, '_render_and_save', real)
    generate_multidigits(str(tmp_path), progress=False, **TINY)
    assert _read(paths['train']) == good


def test_presets_and_overrides():
    small = multidigits.get_preset('small')
    assert small['img_size'] == 128 and small['num_train'] == 3000
    assert multidigits.get_preset('large')['num_train'] == 10000
    assert multidigits.get_preset('small', max_digits=6)['max_digits'] == 6
    with pytest.raises(KeyError, match="Unknown MultiDigits setting 'foo'"):
        multidigits.get_preset('small', foo=1)
    with pytest.raises(ValueError, match='min_digits <= max_digits'):
        multidigits.get_preset('small', min_digits=5, max_digits=2)


def test_render_scene_respects_overlap_cap():
    images, targets = multidigits.load_source_digits()
    cfg = multidigits.get_preset('small', min_digits=4, max_digits=4)
    rng = np.random.default_rng(0)
    for _ in range(10):
        img, objects = multidigits.render_scene(rng, images, targets,
                                                np.arange(1797), cfg)
        assert img.dtype == np.uint8 and img.shape == (128, 128, 3)
        boxes = np.array([o['bbox'] for o in objects])
        for i, box in enumerate(boxes):
            others = np.delete(boxes, i, axis=0)
            assert (multidigits._box_iou(box, others) <= 0.1).all()
        for obj in objects:
            assert obj['label'] == targets[obj['source_index']]


@pytest.mark.slow
def test_cli(tmp_path, repo_root):
    out = tmp_path / 'cli'
    res = subprocess.run([
        sys.executable,
        osp.join(repo_root, 'tools',
                 'generate_multidigits.py'), '--preset', 'small', '--out-dir',
        str(out), '--seed', '1', '--num-train', '4', '--num-val', '2',
        '--max-digits', '2'
    ],
                         capture_output=True,
                         text=True,
                         cwd=repo_root)
    assert res.returncode == 0, res.stderr
    assert 'done in' in res.stdout
    # progress to a pipe: plain lines, no carriage-return bar
    assert 'MultiDigits train: 4/4 img (100%), done in' in res.stderr
    assert 'MultiDigits val: 2/2 img (100%), done in' in res.stderr
    assert '\r' not in res.stderr
    with open(out / 'annotations' / 'instances_val.json') as f:
        data = json.load(f)
    assert len(data['images']) == 2
    assert data['info']['settings']['max_digits'] == 2
