# Copyright (c) mmkdwsd authors. All rights reserved.
"""tools/cache_soft_targets.py on a tiny real MultiDigits set with the real
WSDDN teacher: the cached targets are the teacher's (independent of the
batch size, equal to its image scores at t = 1), a run stopped by a bad
image keeps its work and continues, and stage 2 trains on the cache."""
import copy
import glob
import json
import os.path as osp
import re
import shutil
import subprocess
import sys

import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

from mmkdwsd.apis import cache_soft_targets
from mmkdwsd.datasets.transforms.loading import ImageReadError
from mmkdwsd.registry import MODELS
from tests.conftest import data_overrides

CFG = ('configs/kdwsd/kdwsd-stage2-cached_wsddn-resnet18-tiny_'
       'resnet18-tiny_1xb8-12e_multidigits-32px.py')
TEACHER_CFG = 'configs/wsddn/wsddn_resnet18-tiny_1xb8-6e_multidigits.py'
OICR_CFG = 'configs/wsddn/oicr_resnet18-tiny_1xb8-6e_multidigits.py'
SOFT = 'soft_targets/wsddn-resnet18-tiny_t0.5_train.pkl'


def _seeded_teacher(tmp_path_factory, repo_root, config):
    """A checkpoint of the teacher of ``config`` (seeded weights: the values
    do not matter, only that every path computes with the same teacher)."""
    torch.manual_seed(0)
    teacher = MODELS.build(Config.fromfile(osp.join(repo_root, config)).model)
    path = str(tmp_path_factory.mktemp('teacher') / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return path


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory, repo_root):
    """A WSDDN teacher checkpoint."""
    return _seeded_teacher(tmp_path_factory, repo_root, TEACHER_CFG)


def _cfg(repo_root, data_root, teacher_ckpt, teacher_cfg=TEACHER_CFG,
         **pred):
    cfg = Config.fromfile(osp.join(repo_root, CFG))
    cfg.model.teacher_cfg = osp.join(repo_root, teacher_cfg)
    cfg.model.teacher_ckpt = teacher_ckpt
    cfg.model.pred_distill.update(pred)
    cfg.train_dataloader.dataset.data_root = data_root + '/'
    return cfg


def _teacher_image_scores(repo_root,
                          data,
                          teacher_ckpt,
                          mirror_dir=None,
                          teacher_cfg=TEACHER_CFG,
                          refined=False):
    """WSDDN.predict's image scores (t = 1) of the first 3 training images
    on the teacher's test pipeline, built here independently of the tool;
    with ``mirror_dir``, of the images mirrored on disk there, their
    proposals mirrored by hand; with ``refined``, each class's top refined
    region score instead (an OICR teacher)."""
    import mmcv
    teacher_cfg = Config.fromfile(osp.join(repo_root, teacher_cfg))
    teacher = MODELS.build(teacher_cfg.model)
    teacher.load_state_dict(torch.load(teacher_ckpt)['state_dict'])
    teacher.eval()
    pipeline = Compose([
        t for t in teacher_cfg.test_pipeline
        if t['type'] != 'mmdet.LoadAnnotations'
    ])
    proposals = mmengine.load(osp.join(data, 'proposals', 'ss_train.pkl'))
    with open(osp.join(data, 'annotations', 'instances_train.json')) as f:
        images = json.load(f)['images'][:3]
    keys, items = [], []
    for img in images:
        key = 'train/' + img['file_name']
        path, boxes = osp.join(data, key), proposals[key]
        if mirror_dir:
            image = mmcv.imread(path)
            path = osp.join(mirror_dir, img['file_name'])
            mmcv.imwrite(image[:, ::-1], path)
            boxes = dict(boxes, bboxes=np.array(boxes['bboxes'], np.float32))
            boxes['bboxes'][:, [0, 2]] = \
                image.shape[1] - boxes['bboxes'][:, [2, 0]]
        keys.append(key)
        items.append(
            pipeline(dict(img_path=path, img_id=img['id'], proposals=boxes)))
    with torch.no_grad():
        if refined:
            batch = teacher.data_preprocessor(pseudo_collate(items), False)
            regions = teacher.predict_regions(batch['inputs'],
                                              batch['data_samples'])
            return {
                key: scores.max(0).values.numpy()
                for key, scores in zip(keys, regions['region_scores'])
            }
        preds = teacher.test_step(pseudo_collate(items))
    return {key: pred.pred_score.numpy() for key, pred in zip(keys, preds)}


def test_tool_matches_api_and_teacher(repo_root, tiny_multidigits,
                                      teacher_ckpt, tmp_path):
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_multidigits, data)
    proc = subprocess.run([
        sys.executable, 'tools/cache_soft_targets.py', CFG, '--workers', '2',
        '--batch-size', '8', '--cfg-options',
        f'model.teacher_ckpt={teacher_ckpt}',
        f'train_dataloader.dataset.data_root={data}/'
    ],
                          cwd=repo_root,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = osp.join(data, SOFT)  # the config's soft_target_file
    assert re.search(r'16 images -> .* \(16 computed in .* img/s\)',
                     proc.stdout + proc.stderr)
    # progress to a pipe: plain lines (a bar only on a terminal)
    assert 'soft targets (train): 16/16 img (100%), done in' in proc.stderr
    saved = mmengine.load(out)
    assert saved['meta'] == dict(
        num_classes=10,
        cls_temperature=0.5,
        det_temperature=0.5,
        teacher_cfg=TEACHER_CFG,
        teacher_ckpt=teacher_ckpt,
        split='train')
    targets = saved['targets']
    assert len(targets) == 16
    values = np.stack(list(targets.values()))
    assert values.shape == (16, 10)
    assert ((values >= 0) & (values <= 1)).all()
    assert values.std(axis=0).max() > 0  # image-dependent
    # a second run leaves the file alone
    again = subprocess.run(
        [sys.executable, 'tools/cache_soft_targets.py', CFG, '--out', out],
        cwd=repo_root,
        capture_output=True,
        text=True)
    assert 'exists; nothing to do' in again.stdout

    # in-process, one image per batch: the same targets
    cfg = _cfg(repo_root, data, teacher_ckpt)
    one = cache_soft_targets(
        cfg, str(tmp_path / 'one.pkl'), batch_size=1, num_workers=0,
        progress=False)['targets']
    assert one.keys() == targets.keys()
    for key in targets:
        np.testing.assert_allclose(one[key], targets[key], atol=1e-6)

    # at t = 1 they are the teacher's own image scores (WSDDN.predict on its
    # test pipeline, built here independently of the tool)
    t1 = cache_soft_targets(
        _cfg(repo_root, data, teacher_ckpt, cls_temperature=1.0,
             det_temperature=1.0),
        str(tmp_path / 't1.pkl'),
        num_workers=0,
        progress=False)['targets']
    for key, score in _teacher_image_scores(repo_root, data,
                                            teacher_ckpt).items():
        np.testing.assert_allclose(t1[key], score, atol=1e-5)


def test_bad_image_keeps_work_and_resumes(repo_root, tiny_multidigits,
                                          teacher_ckpt, tmp_path,
                                          log_messages):
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_multidigits, data)
    cfg = _cfg(repo_root, data, teacher_ckpt)
    out = str(tmp_path / 'soft.pkl')
    bad = sorted(glob.glob(osp.join(data, 'train', '*')))[13]
    original = open(bad, 'rb').read()
    with open(bad, 'wb') as f:
        f.write(b'not an image')
    with pytest.raises(ImageReadError, match=re.escape(bad)):
        cache_soft_targets(
            cfg, out, batch_size=4, num_workers=0, save_every=1,
            progress=False)
    assert not osp.exists(out)
    partial = mmengine.load(out + '.partial', file_format='pkl')
    assert len(partial['targets']) == 12  # three full batches of four
    with open(bad, 'wb') as f:
        f.write(original)
    with log_messages() as messages:
        resumed = cache_soft_targets(
            cfg, out, batch_size=4, num_workers=0, progress=False)
    assert any('(12 of 16 images done)' in m for m in messages), messages
    assert any('16 images -> ' in m and '(4 computed in' in m
               for m in messages), messages
    assert not osp.exists(out + '.partial')
    fresh = cache_soft_targets(
        cfg, str(tmp_path / 'fresh.pkl'), batch_size=4, num_workers=0,
        progress=False)
    assert resumed['targets'].keys() == fresh['targets'].keys()
    for key, value in fresh['targets'].items():
        np.testing.assert_allclose(resumed['targets'][key], value, atol=1e-6)

    # a partial file from other settings is refused, not mixed in
    other = str(tmp_path / 'other.pkl')
    mmengine.dump(dict(meta=dict(partial['meta'], cls_temperature=1.0),
                       targets={}), other + '.partial', file_format='pkl')
    with pytest.raises(ValueError, match=re.escape(
            f'{other}.partial holds work from other settings')):
        cache_soft_targets(cfg, other, num_workers=0)
    with pytest.raises(ValueError, match='model.teacher_ckpt is not set'):
        cache_soft_targets(_cfg(repo_root, data, None), out)


def test_reuse_from_keeps_a_finished_files_targets(
        repo_root, tiny_multidigits, teacher_ckpt, tmp_path, log_messages):
    """``reuse_from`` (a smaller pool's file, e.g. mosaic_scenes.py
    --reuse-from's) keeps its targets of the images with the same keys and
    runs the teacher on the others only; another teacher's file, or a
    missing one, is refused by name before anything is computed."""
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_multidigits, data)
    cfg = _cfg(repo_root, data, teacher_ckpt)
    fresh = cache_soft_targets(
        cfg, str(tmp_path / 'fresh.pkl'), batch_size=4, num_workers=0,
        progress=False)
    keys = sorted(fresh['targets'])
    assert len(keys) == 16
    # the "smaller pool": 6 of the images, one of them marked so that a
    # reused value can be told from a recomputed one
    kept = keys[::3]
    marked = np.full_like(fresh['targets'][kept[0]], 0.25)
    small = str(tmp_path / 'small.pkl')
    mmengine.dump(
        dict(meta=fresh['meta'],
             targets={k: marked if k == kept[0] else fresh['targets'][k]
                      for k in kept}),
        small, file_format='pkl')
    out = str(tmp_path / 'large.pkl')
    with log_messages() as messages:
        large = cache_soft_targets(
            cfg, out, batch_size=4, num_workers=0, progress=False,
            reuse_from=small)
    assert any(f"6 of 16 images' soft targets reused from {small}" in m
               for m in messages), messages
    assert any('16 images -> ' in m and '(10 computed in' in m
               for m in messages), messages
    assert sorted(large['targets']) == keys
    np.testing.assert_array_equal(large['targets'][kept[0]], marked)
    for key in keys[1:]:
        np.testing.assert_allclose(large['targets'][key],
                                   fresh['targets'][key], atol=1e-6)
    assert mmengine.load(out, file_format='pkl')['meta'] == fresh['meta']

    other = str(tmp_path / 'other.pkl')
    mmengine.dump(dict(meta=dict(fresh['meta'], cls_temperature=1.0),
                       targets=fresh['targets']), other, file_format='pkl')
    for bad, message in [(other, 'was computed with other settings'),
                         (str(tmp_path / 'missing.pkl'), 'does not exist')]:
        target = str(tmp_path / 'refused.pkl')
        pattern = re.escape(f'--reuse-from {bad} ') + '.*' + message
        with pytest.raises(ValueError, match=pattern):
            cache_soft_targets(cfg, target, num_workers=0, progress=False,
                               reuse_from=bad)
        assert not osp.exists(target) and not osp.exists(target + '.partial')


def test_stage2_trains_on_the_cache(repo_root, tiny_multidigits, teacher_ckpt,
                                    tmp_path):
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_multidigits, data)
    cache_soft_targets(
        _cfg(repo_root, data, teacher_ckpt),
        osp.join(data, SOFT),
        num_workers=0,
        progress=False)

    def run_train(work_dir, *options):
        return subprocess.run([
            sys.executable, 'tools/train.py', CFG, '--work-dir', work_dir,
            '--cfg-options', f'model.teacher_ckpt={teacher_ckpt}', *options,
            *data_overrides(data)
        ],
                              cwd=repo_root,
                              capture_output=True,
                              text=True)

    work_dir = str(tmp_path / 'work')
    proc = run_train(work_dir, 'model.student.init_cfg=None')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert 'cached soft targets from' in proc.stdout
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(logs[0]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    train = [r for r in rows if 'loss' in r]
    assert train and {'student.loss_cls', 'distill.loss_pred'} <= set(
        train[-1])
    assert 'distill.loss_feat' not in train[-1]
    val = [r for r in rows if 'student/mAP' in r]
    assert val and 'teacher/mAP' in val[-1]
    # the same cache read at another temperature is refused by name before
    # anything is built; the cache stays
    refused = str(tmp_path / 'refused')
    proc = run_train(refused, 'model.pred_distill.det_temperature=1.0')
    assert proc.returncode != 0
    assert (f'Soft-target file {osp.join(data, SOFT)} was computed at '
            'det_temperature 0.5, but model.pred_distill.det_temperature is '
            '1.0') in proc.stderr, proc.stderr[-2000:]
    assert not glob.glob(osp.join(refused, '*.pth'))
    assert osp.isfile(osp.join(data, SOFT))


def test_flipped_view_is_the_teacher_on_the_mirrored_image(
        repo_root, tiny_multidigits, teacher_ckpt, tmp_path, log_messages):
    """``--flip`` (the config's ``soft_target_cache.flip``) stores (2, K) per
    image: row 0 the plain cache's, row 1 the teacher's image scores (t = 1)
    on the image mirrored on disk with its proposals mirrored by hand."""
    data = str(tmp_path / 'data')
    shutil.copytree(tiny_multidigits, data)
    out = str(tmp_path / 'flip.pkl')
    proc = subprocess.run([
        sys.executable, 'tools/cache_soft_targets.py', CFG, '--out', out,
        '--workers', '0', '--cfg-options',
        f'model.teacher_ckpt={teacher_ckpt}',
        f'train_dataloader.dataset.data_root={data}/',
        'model.pred_distill.cls_temperature=1.0',
        'model.pred_distill.det_temperature=1.0',
        'soft_target_cache.flip=True'
    ],
                          cwd=repo_root,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    saved = mmengine.load(out)
    assert saved['meta']['views'] == ['original', 'hflip']
    targets = saved['targets']
    assert len(targets) == 16
    assert {v.shape for v in targets.values()} == {(2, 10)}
    cfg = _cfg(repo_root, data, teacher_ckpt, cls_temperature=1.0,
               det_temperature=1.0)
    with log_messages() as messages:
        plain = cache_soft_targets(cfg, str(tmp_path / 'plain.pkl'),
                                   num_workers=0, progress=False)['targets']
    assert not [m for m in messages if 'flips the student' in m]
    # a student trained on flips gets a warning when only the unflipped
    # view is cached
    flipping = copy.deepcopy(cfg)
    flipping.train_dataloader.dataset.pipeline.insert(
        1, dict(type='RandomFlip', prob=0.5, direction='horizontal'))
    with log_messages() as messages:
        cache_soft_targets(flipping, str(tmp_path / 'warned.pkl'),
                           num_workers=0, progress=False)
    assert [m for m in messages if 'flips the student\'s training images'
            in m and '--flip' in m]
    for key in targets:
        np.testing.assert_allclose(targets[key][0], plain[key], atol=1e-6)
    # the flipped view differs from the original (the digits are not
    # symmetric) ...
    assert max(np.abs(v[1] - v[0]).max() for v in targets.values()) > 1e-3
    # ... and is the teacher on the mirrored scene
    for key, score in _teacher_image_scores(repo_root, data, teacher_ckpt,
                                            str(tmp_path)).items():
        np.testing.assert_allclose(targets[key][1], score, atol=1e-4)
    # the training check refuses the plain cache for a config that asks for
    # the flipped view, naming the file
    from mmkdwsd.apis import check_soft_target_file
    from mmkdwsd.datasets import SoftTargetError
    cfg.train_dataloader.dataset.soft_target_file = str(tmp_path /
                                                        'plain.pkl')
    cfg.soft_target_cache = dict(flip=True)
    with pytest.raises(
            SoftTargetError,
            match=re.escape(f'Soft-target file {tmp_path}/plain.pkl was '
                            'computed without the flipped view')):
        check_soft_target_file(cfg)
    cfg.soft_target_cache = dict(flip=False)
    assert check_soft_target_file(cfg) == str(tmp_path / 'plain.pkl')
    cfg.train_dataloader.dataset.soft_target_file = out
    with pytest.raises(SoftTargetError, match='computed with the flipped'):
        check_soft_target_file(cfg)


def test_refined_targets_are_the_oicr_teachers_top_regions(
        repo_root, tiny_multidigits, tmp_path_factory, tmp_path):
    """pred_distill.target_source='refined': each class's most confident
    region under an OICR teacher's refined scores, recorded in the meta;
    'mixed': the mean of those and the WSDDN streams'; the training check
    refuses the file for the WSDDN-stream targets and the reverse; a
    teacher without refinement streams is refused."""
    from mmkdwsd.apis import check_soft_target_file
    from mmkdwsd.datasets import SoftTargetError
    ckpt = _seeded_teacher(tmp_path_factory, repo_root, OICR_CFG)
    refined_cfg = _cfg(repo_root, tiny_multidigits, ckpt, OICR_CFG,
                       target_source='refined')
    out = str(tmp_path / 'refined.pkl')
    saved = cache_soft_targets(
        refined_cfg, out, num_workers=0, progress=False)
    assert saved['meta']['target_source'] == 'refined'
    wsddn = cache_soft_targets(
        _cfg(repo_root, tiny_multidigits, ckpt, OICR_CFG),
        str(tmp_path / 'wsddn.pkl'), num_workers=0, progress=False)
    assert 'target_source' not in wsddn['meta']
    expected = _teacher_image_scores(
        repo_root, tiny_multidigits, ckpt, teacher_cfg=OICR_CFG, refined=True)
    for key, score in expected.items():
        np.testing.assert_allclose(saved['targets'][key], score, atol=1e-5)
        # another source than the WSDDN streams' p'
        assert np.abs(saved['targets'][key] -
                      wsddn['targets'][key]).max() > 1e-3
    # 'mixed': the mean of the two, per image and class
    mixed_cfg = _cfg(repo_root, tiny_multidigits, ckpt, OICR_CFG,
                     target_source='mixed')
    mixed = cache_soft_targets(
        mixed_cfg, str(tmp_path / 'mixed.pkl'), num_workers=0,
        progress=False)
    assert mixed['meta']['target_source'] == 'mixed'
    assert mixed['meta']['cls_temperature'] == 0.5  # its WSDDN half's
    assert mixed['targets'].keys() == saved['targets'].keys()
    for key in saved['targets']:
        np.testing.assert_allclose(
            mixed['targets'][key],
            (saved['targets'][key] + wsddn['targets'][key]) / 2,
            atol=1e-5)
    mixed_cfg.train_dataloader.dataset.soft_target_file = out
    with pytest.raises(SoftTargetError, match="from the 'refined' teacher "
                       r"streams .*target_source is 'mixed'"):
        check_soft_target_file(mixed_cfg)

    refined_cfg.train_dataloader.dataset.soft_target_file = out
    assert check_soft_target_file(refined_cfg) == out
    # no temperatures recorded, none checked: the refined targets have none
    assert 'cls_temperature' not in saved['meta']
    refined_cfg.model.pred_distill.update(cls_temperature=1.,
                                          det_temperature=1.)
    assert check_soft_target_file(refined_cfg) == out
    plain_cfg = _cfg(repo_root, tiny_multidigits, ckpt, OICR_CFG)
    plain_cfg.train_dataloader.dataset.soft_target_file = out
    with pytest.raises(
            SoftTargetError,
            match=re.escape(f'Soft-target file {out} holds targets from the '
                            "'refined' teacher streams (meta target_source),"
                            " but model.pred_distill.target_source is "
                            "'wsddn'")):
        check_soft_target_file(plain_cfg)
    refined_cfg.train_dataloader.dataset.soft_target_file = str(
        tmp_path / 'wsddn.pkl')
    with pytest.raises(SoftTargetError, match="from the 'wsddn' teacher"):
        check_soft_target_file(refined_cfg)

    for source in ('refined', 'mixed'):
        wsddn_teacher = _cfg(repo_root, tiny_multidigits, ckpt,
                             target_source=source)
        with pytest.raises(ValueError, match=f'{source!r} needs a teacher '
                           r'with OICR .*num_refine > 0'):
            MODELS.build(wsddn_teacher.model)
