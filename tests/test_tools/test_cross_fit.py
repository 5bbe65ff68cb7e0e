# Copyright (c) mmkdwsd authors. All rights reserved.
"""tools/analysis_tools/cross_fit_soft_targets.py: fold data roots, the
merge of per-fold soft targets, and the whole chain on tiny data."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import mmengine
import numpy as np
import pytest

from tests.test_tools import load_script

TOOL = osp.join('tools', 'analysis_tools', 'cross_fit_soft_targets.py')


def load_tool(repo_root: str):
    return load_script(osp.join(repo_root, TOOL), 'mmkdwsd_cross_fit')


def _coco(ids):
    images = [dict(id=i, file_name=f'train_{i:06d}.png', height=32,
                   width=32) for i in ids]
    anns = [dict(id=100 + i, image_id=i, category_id=1 + i % 2,
                 bbox=[0, 0, 8, 8], area=64, iscrowd=0) for i in ids]
    cats = [dict(id=1, name='one'), dict(id=2, name='two')]
    return dict(images=images, annotations=anns, categories=cats)


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / 'md'
    for name in ('train', 'val', 'proposals', 'annotations'):
        (root / name).mkdir(parents=True)
    # ids out of order in the file: folds go by sorted id
    (root / 'annotations' / 'instances_train.json').write_text(
        json.dumps(_coco([4, 0, 3, 1, 2])))
    (root / 'annotations' / 'instances_val.json').write_text(
        json.dumps(_coco([10])))
    return str(root)


def _ids(root):
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    assert {a['image_id'] for a in coco['annotations']} <= \
        {im['id'] for im in coco['images']}
    assert len(coco['annotations']) == len(coco['images'])
    assert coco['categories'] == _coco([])['categories']
    return sorted(im['id'] for im in coco['images'])


def test_split(repo_root, data_root, tmp_path):
    tool = load_tool(repo_root)
    out = str(tmp_path / 'folds')
    folds = tool.split(data_root, out, 2)
    # round robin over the sorted ids: fold 0 holds 0, 2, 4
    assert [_ids(f['held_out']) for f in folds] == [[0, 2, 4], [1, 3]]
    assert [_ids(f['train_on']) for f in folds] == [[1, 3], [0, 2, 4]]
    assert [(f['train_on_images'], f['held_out_images'])
            for f in folds] == [(2, 3), (3, 2)]
    for name in ('train', 'val', 'proposals',
                 'annotations/instances_val.json'):
        assert osp.realpath(osp.join(folds[1]['held_out'], name)) == \
            osp.realpath(osp.join(data_root, name))
    # a rerun is a no-op; another fold count into the same folder is
    # refused, naming the file
    assert tool.split(data_root, out, 2) == folds
    with pytest.raises(FileExistsError, match='fold0/train_on/annotations/'
                       'instances_train.json holds another split'):
        tool.split(data_root, out, 3)
    with pytest.raises(ValueError, match=r'--folds must be in \[2, 5\]'):
        tool.split(data_root, str(tmp_path / 'x'), 1)
    os.remove(osp.join(data_root, 'annotations', 'instances_train.json'))
    with pytest.raises(FileNotFoundError, match='instances_train.json not '
                       'found'):
        tool.split(data_root, str(tmp_path / 'y'), 2)


def _soft(path, keys, t=0.5, ckpt='t.pth'):
    targets = {k: np.full(2, 0.25 + 0.1 * i, np.float32)
               for i, k in enumerate(keys)}
    meta = dict(num_classes=2, cls_temperature=t, det_temperature=t,
                teacher_cfg='dict', teacher_ckpt=ckpt, split='train')
    mmengine.dump(dict(meta=meta, targets=targets), path)
    return path


def test_merge(repo_root, data_root, tmp_path):
    tool = load_tool(repo_root)
    ann = osp.join(data_root, 'annotations', 'instances_train.json')
    keys = [f'train/train_{i:06d}.png' for i in range(5)]
    a = _soft(str(tmp_path / 'a.pkl'), keys[:3], ckpt='fold0.pth')
    b = _soft(str(tmp_path / 'b.pkl'), keys[3:], ckpt='fold1.pth')
    out = str(tmp_path / 'merged.pkl')
    tool.main(['merge', ann, out, a, b])
    merged = mmengine.load(out)
    assert sorted(merged['targets']) == keys
    np.testing.assert_allclose(merged['targets'][keys[3]], [0.25, 0.25])
    assert merged['meta']['teacher_ckpt'] == ['fold0.pth', 'fold1.pth']
    assert merged['meta']['cross_fit'] == dict(folds=2, files=[a, b])
    assert merged['meta']['cls_temperature'] == 0.5
    os.remove(out)
    # overlapping folds, a missing fold, another split, other temperatures:
    # refused, nothing written
    with pytest.raises(ValueError, match=r"'train/train_000002.png' has "
                       'soft targets in both'):
        tool.merge(ann, out, [a, _soft(str(tmp_path / 'c.pkl'), keys[2:])])
    with pytest.raises(ValueError, match=r"2 image\(s\) of .*instances_"
                       r"train.json have soft targets in none of the files "
                       r"\(first: 'train/train_000003.png'\)"):
        tool.merge(ann, out, [a])
    with pytest.raises(ValueError, match='not in .*files of another split'):
        tool.merge(ann, out, [a, _soft(str(tmp_path / 'd.pkl'), keys[3:] +
                                       ['train/train_000009.png'])])
    with pytest.raises(ValueError, match=r'e.pkl has meta cls_temperature='
                       r'1\.0, but .*a.pkl has 0\.5'):
        tool.merge(ann, out, [a, _soft(str(tmp_path / 'e.pkl'), keys[3:],
                                       t=1.0)])
    assert not osp.exists(out)
    # keys of another image folder
    with pytest.raises(ValueError, match='5 image'):
        tool.main(['merge', ann, out, a, b, '--img-folder', 'val'])


def test_run_tiny(repo_root, tmp_path):
    """The whole chain on tiny generated data (accuracy.py --tiny): each
    fold's teacher trains on the other fold only and caches the soft
    targets of its own held-out fold; the merged file covers every training
    scene; the student trains on it."""
    work, data = str(tmp_path / 'xfit'), str(tmp_path / 'md')
    cmd = [sys.executable, osp.join(repo_root, TOOL), 'run', '--tiny',
           '--data-root', data, '--work-dir', work, '--folds', '2',
           '--in-sample-control']
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    all_keys = _keys_of(data)
    fold_keys = []
    for k in range(2):
        held = osp.join(work, 'data', f'fold{k}', 'held_out')
        train_on = osp.join(work, 'data', f'fold{k}', 'train_on')
        held_keys = _keys_of(held)
        assert held_keys.isdisjoint(_keys_of(train_on))
        assert len(held_keys) == 8  # half of --tiny's 16 scenes
        soft = mmengine.load(osp.join(work, f'fold{k}', 'held_out', 'seed0',
                                      'soft_targets.pkl'))
        assert set(soft['targets']) == held_keys
        # computed by this fold's teacher, which trained on the other fold
        assert osp.realpath(soft['meta']['teacher_ckpt']) == osp.realpath(
            osp.join(work, f'fold{k}', 'teacher_wsddn', 'seed0',
                     'epoch_1.pth'))
        with open(osp.join(work, f'fold{k}', 'teacher_wsddn', 'seed0',
                           'done.json')) as f:
            assert osp.realpath(json.load(f)['checkpoint']) == osp.realpath(
                soft['meta']['teacher_ckpt'])
        fold_keys.append(held_keys)
        # the control: this fold's teacher on the scenes it trained on
        seen = mmengine.load(osp.join(work, f'fold{k}', 'in_sample',
                                      'seed0', 'soft_targets.pkl'))
        assert set(seen['targets']) == _keys_of(train_on)
        assert osp.realpath(seen['meta']['teacher_ckpt']) == \
            osp.realpath(soft['meta']['teacher_ckpt'])
    assert fold_keys[0] | fold_keys[1] == all_keys
    merged = mmengine.load(
        osp.join(work, 'cross_fit', 'seed0', 'soft_targets.pkl'))
    assert set(merged['targets']) == all_keys
    assert merged['meta']['cross_fit']['folds'] == 2
    assert set(mmengine.load(osp.join(work, 'in_sample', 'seed0',
                                      'soft_targets.pkl'))['targets']) == \
        all_keys
    summary = open(osp.join(work, 'cross_fit_kd_pred_cached_noflip_'
                            'seed0.md')).read()
    # the two students (cross-fitted, control) and their rows
    for student_dir, what in ((work, 'cross-fitted'),
                              (osp.join(work, 'in_sample'), 'in-sample')):
        with open(osp.join(student_dir, 'kd_pred_cached_noflip', 'seed0',
                           'done.json')) as f:
            student_map = json.load(f)['metrics']['student/mAP']
        assert np.isfinite(student_map)
        assert re.search(rf'\| {what} .* \| {student_map:.1f} \|', summary)
    assert summary.count('\n| 0 | 8 | 8 |') == 1  # fold 0's row
    # a rerun trains nothing again
    again = subprocess.run(cmd, cwd=repo_root, capture_output=True,
                           text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert 'finished earlier' in again.stdout
    assert 'caching soft targets' not in again.stdout


def _keys_of(root):
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        return {'train/' + im['file_name'] for im in json.load(f)['images']}
