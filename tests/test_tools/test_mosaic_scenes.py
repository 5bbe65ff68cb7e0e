# Copyright (c) mmkdwsd authors. All rights reserved.
"""tools/analysis_tools/mosaic_scenes.py: box cropping, the mosaics' pixels
and annotations, the larger split's layout, reruns and bad input."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from tests.test_tools import load_script

TOOL = osp.join('tools', 'analysis_tools', 'mosaic_scenes.py')


def load_tool(repo_root: str):
    # registered, so that the worker processes' jobs pickle by name
    return load_script(osp.join(repo_root, TOOL), register=True)


def test_crop_boxes(repo_root):
    tool = load_tool(repo_root)
    boxes = np.array([
        [2, 2, 4, 4],  # inside the crop (0, 0, 8, 8)
        [6, 0, 4, 4],  # half inside: kept at 0.5, clipped
        [7, 7, 4, 4],  # a quarter of a quarter inside: dropped
        [20, 20, 2, 2],  # outside
    ])
    moved, keep = tool.crop_boxes(boxes, (0, 0, 8, 8), (16, 8), 0.5)
    assert keep.tolist() == [0, 1]
    np.testing.assert_allclose(moved, [[18, 10, 4, 4], [22, 8, 2, 4]])
    _, keep = tool.crop_boxes(boxes, (0, 0, 8, 8), (0, 0), 0.6)
    assert keep.tolist() == [0]
    moved, keep = tool.crop_boxes(np.zeros((0, 4)), (0, 0, 8, 8), (0, 0),
                                  0.5)
    assert moved.shape == (0, 4) and keep.size == 0


def _source(root, num=3, size=16):
    """Images of one colour each, with one box per image in its top left
    quarter, and a val split."""
    for name in ('train', 'val', 'annotations'):
        os.makedirs(osp.join(root, name), exist_ok=True)
    images, anns = [], []
    for i in range(num):
        name = f'train_{i:06d}.png'
        img = np.full((size, size, 3), 40 * (i + 1), np.uint8)
        cv2.imwrite(osp.join(root, 'train', name), img)
        images.append(dict(id=i + 1, file_name=name, width=size,
                           height=size))
        anns.append(dict(id=10 + i, image_id=i + 1, category_id=1 + i % 2,
                         bbox=[0, 0, 4, 4], area=16, iscrowd=0))
    coco = dict(images=images, annotations=anns,
                categories=[dict(id=1, name='a'), dict(id=2, name='b')])
    with open(osp.join(root, 'annotations', 'instances_train.json'),
              'w') as f:
        json.dump(coco, f)
    with open(osp.join(root, 'annotations', 'instances_val.json'),
              'w') as f:
        json.dump(dict(coco, annotations=[]), f)
    return coco


def test_make_mosaic_split(repo_root, tmp_path):
    tool = load_tool(repo_root)
    src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
    coco = _source(src)
    ann_file = tool.make_mosaic_split(src, out, 5, seed=1, progress=False)
    with open(ann_file) as f:
        data = json.load(f)
    # the labelled scenes first and unchanged, then the mosaics
    assert data['images'][:3] == coco['images']
    assert data['annotations'][:3] == coco['annotations']
    assert [im['file_name'] for im in data['images'][3:]] == [
        f'mosaic_{i:06d}.png' for i in range(5)
    ]
    assert [im['id'] for im in data['images']] == list(range(1, 9))
    ann_ids = [a['id'] for a in data['annotations']]
    assert len(set(ann_ids)) == len(ann_ids)
    assert data['categories'] == coco['categories']
    assert data['info']['mosaic']['mosaics'] == 5
    assert osp.realpath(osp.join(out, 'train', 'train_000000.png')) == \
        osp.realpath(osp.join(src, 'train', 'train_000000.png'))
    assert osp.isdir(osp.join(out, 'val'))
    assert osp.isfile(osp.join(out, 'annotations', 'instances_val.json'))
    colours = {40 * (i + 1) for i in range(3)}
    for im in data['images'][3:]:
        img = cv2.imread(osp.join(out, 'train', im['file_name']))
        assert img.shape == (16, 16, 3)
        # each quarter is one source's colour, whole
        for y in (0, 8):
            for x in (0, 8):
                quarter = img[y:y + 8, x:x + 8]
                assert (quarter == quarter[0, 0]).all()
                assert int(quarter[0, 0, 0]) in colours
        for ann in data['annotations']:
            if ann['image_id'] != im['id']:
                continue
            x, y, w, h = ann['bbox']
            # a kept box lies within one quarter and was >= half visible
            assert x // 8 == (x + w - 1e-6) // 8
            assert y // 8 == (y + h - 1e-6) // 8
            assert w * h >= 8 - 1e-6 and ann['area'] == w * h
    # a rerun keeps the written images and gives the same split
    path = osp.join(out, 'train', 'mosaic_000000.png')
    cv2.imwrite(path, np.zeros((16, 16, 3), np.uint8))
    tool.make_mosaic_split(src, out, 5, seed=1, progress=False)
    with open(ann_file) as f:
        assert json.load(f) == data
    assert not cv2.imread(path).any()
    # workers change nothing but the time
    parallel = tool.make_mosaic_split(src, str(tmp_path / 'parallel'), 5,
                                      seed=1, progress=False, workers=2)
    with open(parallel) as f:
        assert json.load(f) == data
    for i in range(1, 5):
        name = f'mosaic_{i:06d}.png'
        assert (cv2.imread(osp.join(out, 'train', name)) == cv2.imread(
            str(tmp_path / 'parallel' / 'train' / name))).all()
    # another seed, other crops
    other = tool.make_mosaic_split(src, str(tmp_path / 'other'), 5, seed=2,
                                   progress=False)
    with open(other) as f:
        assert json.load(f)['annotations'] != data['annotations']


def test_reuse_from(repo_root, tmp_path):
    tool = load_tool(repo_root)
    src = str(tmp_path / 'src')
    _source(src)
    small = str(tmp_path / 'small')
    tool.make_mosaic_split(src, small, 4, seed=1, progress=False)
    big = str(tmp_path / 'big')
    tool.main([src, big, '--num', '6', '--seed', '1', '--no-progress',
               '--reuse-from', small])
    ann_file = osp.join(big, 'annotations', 'instances_train.json')
    fresh = tool.make_mosaic_split(src, str(tmp_path / 'fresh'), 6, seed=1,
                                   progress=False)
    with open(ann_file) as f, open(fresh) as g:
        assert json.load(f) == json.load(g)
    for i in range(6):
        name = f'mosaic_{i:06d}.png'
        path = osp.join(big, 'train', name)
        # the small split's four are its files (no new disk), the rest new
        if i < 4:
            assert osp.samefile(path, osp.join(small, 'train', name))
        else:
            assert not osp.exists(osp.join(small, 'train', name))
        assert (cv2.imread(path) == cv2.imread(
            str(tmp_path / 'fresh' / 'train' / name))).all()
    # a split of another seed or source, or none, is refused before any
    # file is written
    for root, error, match in [
            (small, ValueError, 'seed 1, but .* seed 2'),
            (src, ValueError, 'info.mosaic'),
            (str(tmp_path / 'none'), FileNotFoundError, 'instances_train'),
    ]:
        out = tmp_path / f'refused_{osp.basename(root)}'
        with pytest.raises(error, match=match):
            tool.make_mosaic_split(src, str(out), 6, seed=2,
                                   progress=False, reuse_from=root)
        assert not out.exists()
    other_src = str(tmp_path / 'other_src')
    _source(other_src)
    with pytest.raises(ValueError, match='other_src'):
        tool.make_mosaic_split(other_src, str(tmp_path / 'o'), 6, seed=1,
                               progress=False, reuse_from=small)


def test_bad_input(repo_root, tmp_path):
    tool = load_tool(repo_root)
    with pytest.raises(FileNotFoundError, match='instances_train.json'):
        tool.make_mosaic_split(str(tmp_path), str(tmp_path / 'o'), 2,
                               progress=False)
    src = str(tmp_path / 'src')
    _source(src)
    with pytest.raises(ValueError, match='must differ'):
        tool.make_mosaic_split(src, src, 2, progress=False)
    os.remove(osp.join(src, 'train', 'train_000001.png'))
    with pytest.raises(FileNotFoundError, match='train_000001.png'):
        tool.make_mosaic_split(src, str(tmp_path / 'o'), 20, progress=False)
    with pytest.raises(SystemExit):
        tool.parse_args([src, 'o', '--min-visible', '0'])
    with pytest.raises(SystemExit):
        tool.parse_args([src, 'o', '--workers', '0'])


def test_union_labels(repo_root, tmp_path):
    tool = load_tool(repo_root)
    src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
    coco = _source(src, num=5)
    ann_file = tool.make_mosaic_split(src, out, 12, seed=3, progress=False)
    union_file = str(tmp_path / 'union.json')
    stats = tool.union_labels(ann_file, union_file)
    with open(ann_file) as f:
        split = json.load(f)
    with open(union_file) as f:
        data = json.load(f)
    # the labelled scenes keep their annotations, the images stay
    assert data['images'] == split['images']
    assert data['annotations'][:5] == coco['annotations']
    classes = {im['id']: {a['category_id'] for a in coco['annotations']
                          if a['image_id'] == im['id']}
               for im in coco['images']}
    right = named = shown = exact = 0
    for i, im in enumerate(data['images'][5:]):
        # the sources, drawn first from the mosaic's own generator
        src_idx = np.random.default_rng([3, i]).integers(0, 5, 4)
        expected = set().union(
            *(classes[coco['images'][k]['id']] for k in src_idx))
        anns = [a for a in data['annotations'] if a['image_id'] == im['id']]
        assert sorted(a['category_id'] for a in anns) == sorted(expected)
        assert all(a['bbox'] == [0, 0, 16, 16] for a in anns)
        truth = {a['category_id'] for a in split['annotations']
                 if a['image_id'] == im['id']}
        assert truth <= expected  # what a mosaic shows comes from a source
        right += len(truth & expected)
        named += len(expected)
        shown += len(truth)
        exact += truth == expected
    assert stats['recall'] == pytest.approx(right / shown) == 1.0
    assert stats['precision'] == pytest.approx(right / named)
    assert stats['exact'] == pytest.approx(exact / 12)
    ann_ids = [a['id'] for a in data['annotations']]
    assert len(set(ann_ids)) == len(ann_ids)
    # the command line writes the same file
    cli_file = str(tmp_path / 'cli.json')
    tool.main([src, out, '--num', '12', '--seed', '3', '--no-progress',
               '--union-labels', cli_file])
    with open(cli_file) as f:
        assert json.load(f) == data
    # not a mosaic split: the file and the field named
    with pytest.raises(ValueError, match='instances_train.json.*info.mosaic'):
        tool.union_labels(
            osp.join(src, 'annotations', 'instances_train.json'),
            str(tmp_path / 'x.json'))
    assert not osp.exists(tmp_path / 'x.json')
