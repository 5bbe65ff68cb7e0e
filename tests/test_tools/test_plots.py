# Copyright (c) mmkdwsd authors. All rights reserved.
"""tools/analysis_tools: per-class AP gain chart, training curves and
soft-target statistics."""
import json
import os.path as osp
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

from tests.test_tools import load_script


def load_tool(repo_root: str, name: str):
    return load_script(
        osp.join(repo_root, 'tools', 'analysis_tools', f'{name}.py'))


def test_plot_ap_gain_from_metric_json(tmp_path, repo_root, capsys):
    tool = load_tool(repo_root, 'plot_ap_gain')
    classes = ['zero', 'one', 'two', 'three']
    base, dist = tmp_path / 'base.json', tmp_path / 'dist.json'
    # the format of MultiLabelPaperMetric(out_file=...)
    base.write_text(
        json.dumps(dict(classes=classes, ap=[50.0, 80.0, None, 60.0])))
    dist.write_text(
        json.dumps(dict(classes=classes, ap=[70.0, 75.0, 10.0, 61.0])))
    out = tmp_path / 'gain.png'
    tool.main([str(base), str(dist), '--out', str(out)])
    printed = capsys.readouterr().out
    assert out.stat().st_size > 0
    # sorted by gain, the class without AP in one input left out
    assert printed.index('zero: +20.00') < printed.index(
        'three: +1.00') < printed.index('one: -5.00')
    assert 'left out (no positives): two' in printed


def test_plot_ap_gain_from_predictions(tmp_path, repo_root, capsys):
    tool = load_tool(repo_root, 'plot_ap_gain')
    gt = [[0], [1], [0, 2], [2]]
    perfect = [[0.9, 0.1, 0.2], [0.1, 0.9, 0.1], [0.8, 0.1, 0.9],
               [0.1, 0.2, 0.7]]
    noisy = [[0.4, 0.6, 0.2], [0.5, 0.3, 0.1], [0.8, 0.1, 0.9],
             [0.1, 0.2, 0.7]]

    def dump(path, scores):
        # what MMEngine's DumpResults writes for mmpretrain samples
        samples = [
            dict(pred_score=torch.tensor(s), gt_label=torch.tensor(g))
            for s, g in zip(scores, gt)
        ]
        with open(path, 'wb') as f:
            pickle.dump(samples, f)

    dump(tmp_path / 'base.pkl', noisy)
    dump(tmp_path / 'dist.pkl', perfect)
    _, ap = tool.load_ap(str(tmp_path / 'dist.pkl'))
    np.testing.assert_allclose(ap, [100.0, 100.0, 100.0])
    tool.main([
        str(tmp_path / 'base.pkl'),
        str(tmp_path / 'dist.pkl'), '--out',
        str(tmp_path / 'gain.png'), '--classes', 'a', 'b', 'c'
    ])
    assert 'mean AP gain +' in capsys.readouterr().out


def test_plot_ap_gain_errors(tmp_path, repo_root):
    tool = load_tool(repo_root, 'plot_ap_gain')
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(mAP=50.0)))
    with pytest.raises(ValueError, match='MultiLabelPaperMetric'):
        tool.load_ap(str(bad))
    a, b = tmp_path / 'a.json', tmp_path / 'b.json'
    a.write_text(json.dumps(dict(classes=['x'], ap=[1.0])))
    b.write_text(json.dumps(dict(classes=['x', 'y'], ap=[1.0, 2.0])))
    with pytest.raises(ValueError, match='classes'):
        tool.main([str(a), str(b), '--out', str(tmp_path / 'o.png')])


def write_vis_log(run_dir, timestamp, lines):
    vis = run_dir / timestamp / 'vis_data'
    vis.mkdir(parents=True)
    with open(vis / f'{timestamp}.json', 'w') as f:
        for line in lines:
            f.write(json.dumps(line) + '\n')
    # LocalVisBackend also writes every line to scalars.json
    (vis / 'scalars.json').write_text('')


def test_plot_curves(tmp_path, repo_root, capsys):
    tool = load_tool(repo_root, 'plot_curves')
    train = [
        dict(lr=0.01, loss=1.0 / i, epoch=1, iter=i, step=i)
        for i in range(1, 5)
    ]
    val = [{'multi-label/mAP': 40.0, 'step': 1}]
    write_vis_log(tmp_path / 'work' / 'baseline', '20240101_000000',
                  train + val)
    # a resumed run: two timestamps, concatenated in order
    write_vis_log(tmp_path / 'work' / 'stage2', '20240101_000000', train)
    write_vis_log(tmp_path / 'work' / 'stage2', '20240102_000000',
                  [dict(loss=0.1, epoch=2, iter=5, step=5)] + val)
    out = tmp_path / 'curves.png'
    tool.main(
        [str(tmp_path / 'work'), '--keys', 'loss', 'mAP', '--out',
         str(out)])
    printed = capsys.readouterr().out
    assert out.stat().st_size > 0
    assert '4 curves' in printed
    assert 'stage2: multi-label/mAP (val)' in printed
    runs = tool.find_runs(str(tmp_path / 'work'))
    series = tool.load_series(runs['stage2'], ['loss'])
    assert series['loss (train)'][0] == [1, 2, 3, 4, 5]

    with pytest.raises(ValueError, match='no logged scalar'):
        tool.main(
            [str(tmp_path / 'work'), '--keys', 'nothing', '--out',
             str(out)])

    # stages one after the other: stage2 starts after baseline's 4 iters
    # (and its one validation epoch)
    chained = tool.chain(OrderedDict(
        (name, tool.load_series(logs, ['loss', 'mAP']))
        for name, logs in runs.items()))
    assert chained['stage2']['loss (train)'][0] == [5, 6, 7, 8, 9]
    assert chained['stage2']['multi-label/mAP (val)'][0] == [2]
    tool.main([str(tmp_path / 'work'), '--keys', 'loss', 'mAP',
               '--sequential', '--logy', 'loss', '--out', str(out)])
    with pytest.raises(ValueError, match='--logy'):
        tool.main([str(tmp_path / 'work'), '--keys', 'loss', '--logy',
                   'mAP', '--out', str(out)])


@pytest.mark.parametrize('feat_level', ['map', 'pooled'])
def test_resolution_ceiling_model(tmp_path, repo_root, feat_level):
    from mmengine.config import Config
    from mmpretrain.structures import DataSample

    from mmkdwsd.registry import MODELS
    tool = load_tool(repo_root, 'resolution_ceiling')
    student = Config.fromfile(osp.join(repo_root, tool.STUDENT_CONFIG)).model
    teacher = Config.fromfile(osp.join(repo_root, tool.TEACHER_CONFIG)).model
    reference = MODELS.build(teacher)
    ckpt = str(tmp_path / 'reference.pth')
    torch.save(dict(state_dict=reference.state_dict()), ckpt)
    model = MODELS.build(
        dict(type='ClassifierToClassifierKD', teacher=teacher,
             teacher_ckpt=ckpt, student=student, feat_weight=1.,
             pred_weight=1., feat_level=feat_level,
             data_preprocessor=dict(
                 type='KDDataPreprocessor',
                 teacher=teacher.data_preprocessor,
                 student=student.data_preprocessor)))
    for key, value in reference.state_dict().items():  # loaded
        torch.testing.assert_close(model.teacher.state_dict()[key], value)
    model.train()
    assert not model.teacher.training and model.student.training
    samples = [DataSample().set_gt_label([1, 2]), DataSample().set_gt_label(
        [0])]
    losses = model(dict(teacher=torch.rand(2, 3, 64, 64),
                        student=torch.rand(2, 3, 32, 32)),
                   dict(student=samples), mode='loss')
    assert set(losses) == {'loss_cls', 'loss_feat', 'loss_pred'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.adapter.weight.grad is not None  # the feature term counts
    # at test time: the student alone, on the student view
    model.eval()
    x = torch.rand(2, 3, 32, 32)
    preds = model(x, [DataSample(), DataSample()], mode='predict')
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in preds]),
        model.student(x, mode='tensor').sigmoid())


def test_soft_target_stats(tmp_path, repo_root, capsys):
    """soft_target_stats matches the soft targets to the labels by image
    (keys '<folder>/<file name>', classes sorted by category id) and
    reports how far they are from the labels."""
    import mmengine
    tool = load_tool(repo_root, 'soft_target_stats')
    images = [dict(id=i, file_name=f'img{i}.png', height=32, width=32)
              for i in range(2)]
    # category 7 sorts before 9: class 0 is '7', class 1 is '9'
    cats = [dict(id=9, name='nine'), dict(id=7, name='seven')]
    anns = [dict(id=1, image_id=0, category_id=7, bbox=[0, 0, 8, 8],
                 area=64, iscrowd=0),
            dict(id=2, image_id=1, category_id=9, bbox=[0, 0, 8, 8],
                 area=64, iscrowd=0)]
    ann_file = tmp_path / 'instances_train.json'
    ann_file.write_text(
        json.dumps(dict(images=images, annotations=anns, categories=cats)))
    # image 0 (class 0): 0.75 on its class, 0.5 on the other;
    # image 1 (class 1): 0.25 on the other, 1.0 on its class
    targets = {'train/img0.png': np.array([0.75, 0.5], np.float32),
               'train/img1.png': np.array([0.25, 1.0], np.float32)}
    soft = tmp_path / 'soft.pkl'
    mmengine.dump(dict(meta=dict(num_classes=2), targets=targets), str(soft))
    stats = tool.soft_target_stats(str(ann_file), str(tmp_path / 'train'),
                                   str(soft))
    assert stats['images'] == 2
    assert stats['pos_mean'] == pytest.approx(0.875)
    assert stats['neg_mean'] == pytest.approx(0.375)
    assert stats['pos_below_half'] == 0
    assert stats['neg_above_half'] == 0  # 0.5 is not above
    assert stats['abs_diff'] == pytest.approx((0.25 + 0.5 + 0.25 + 0) / 4)
    assert stats['map'] == pytest.approx(100.0)  # each class ranked first
    tool.main([str(ann_file), str(tmp_path / 'train'), str(soft)])
    out = capsys.readouterr().out
    assert '| 2 | 0.875 | 0.375 | 0.000 | 0.000 | 0.250 |' in out
    assert out.rstrip().endswith('| 100.0 |')
    # 0.9 on class 0 of image 1 (negative) ranks it above image 0 there
    targets['train/img1.png'][0] = 0.9
    mmengine.dump(dict(meta=dict(num_classes=2), targets=targets), str(soft))
    stats = tool.soft_target_stats(str(ann_file), str(tmp_path / 'train'),
                                   str(soft))
    assert stats['map'] == pytest.approx((50.0 + 100.0) / 2)
    # --image-ids keeps image 1 alone
    subset = tool.labelled_images(str(ann_file), str(tmp_path / 'train'),
                                  (1, 1))
    assert [info['img_id'] for info in subset[0]] == [1]
    stats = tool.soft_target_stats(str(ann_file), str(tmp_path / 'train'),
                                   str(soft), subset)
    assert stats['images'] == 1 and stats['pos_mean'] == pytest.approx(1.0)
    assert stats['neg_mean'] == pytest.approx(0.9)
    with pytest.raises(ValueError, match='no image has an id in 5:9'):
        tool.labelled_images(str(ann_file), str(tmp_path / 'train'), (5, 9))
    with pytest.raises(SystemExit):
        tool.parse_args([str(ann_file), 'x', 'y', '--image-ids', '3'])
    assert '--image-ids expects FIRST:LAST' in capsys.readouterr().err


def test_pseudo_label_scenes(tmp_path, repo_root, capsys):
    """The scenes of the labelled split keep their annotations; the others
    get one whole-image annotation per class with p' >= threshold (classes
    sorted by category id), scored against their true labels; a labelled
    split not inside the larger one is named."""
    import mmengine
    tool = load_tool(repo_root, 'pseudo_label_scenes')
    images = [dict(id=i, file_name=f'img{i}.png', height=32, width=40)
              for i in range(3)]
    cats = [dict(id=9, name='nine'), dict(id=7, name='seven')]  # 7: class 0

    def ann(i, img, cat):
        return dict(id=i, image_id=img, category_id=cat, bbox=[1, 1, 8, 8],
                    area=64, iscrowd=0)

    big = tmp_path / 'big.json'
    big.write_text(json.dumps(dict(
        images=images, categories=cats,
        annotations=[ann(1, 0, 7), ann(2, 1, 9), ann(3, 2, 7),
                     ann(4, 2, 9)])))
    small = tmp_path / 'small.json'
    small.write_text(json.dumps(dict(images=images[:1], categories=cats,
                                     annotations=[ann(1, 0, 7)])))
    # img0 (labelled) keeps its '7' whatever p' says; img1 (truth '9') gets
    # '9' and a wrong '7'; img2 (truth '7', '9') gets '7' only
    soft = tmp_path / 'soft.pkl'
    mmengine.dump(dict(meta=dict(num_classes=2), targets={
        'train/img0.png': np.array([0.1, 0.9], np.float32),
        'train/img1.png': np.array([0.6, 0.7], np.float32),
        'train/img2.png': np.array([0.5, 0.2], np.float32)}), str(soft))
    out = tmp_path / 'pseudo.json'
    tool.main([str(big), str(small), str(tmp_path / 'train'), str(soft),
               '--out', str(out), '--threshold', '0.5'])
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    by_img = {}
    for a in data['annotations']:
        by_img.setdefault(a['image_id'], []).append(a)
    assert [a['id'] for a in by_img[0]] == [1]  # kept as it was
    assert sorted(a['category_id'] for a in by_img[1]) == [7, 9]
    assert [a['category_id'] for a in by_img[2]] == [7]
    assert all(a['bbox'] == [0, 0, 40, 32] for a in by_img[1] + by_img[2])
    assert len({a['id'] for a in data['annotations']}) == 4
    assert data['info']['pseudo_labels']['pseudo_labelled_images'] == 2
    # 2 right of 3 predicted, 2 of 3 true found, no scene exactly right
    assert ('1 scenes keep their labels, 2 carry pseudo-labels' in printed)
    assert 'precision 66.7%, recall 66.7%' in printed
    assert 'right on 0.0% of the scenes' in printed
    # 'auto': the best F1 on the labelled scene (truth '7' only, p' 0.1 on
    # it) needs p' >= 0.05, which keeps both classes on the others
    assert tool.best_threshold(np.array([[0.1, 0.9]]), np.array([[1, 0]])) \
        == pytest.approx(0.05)
    assert tool.best_threshold(np.array([[0.3, 0.8], [0.7, 0.2]]),
                               np.array([[0, 1], [1, 0]])) == \
        pytest.approx(0.35)
    tool.main([str(big), str(small), str(tmp_path / 'train'), str(soft),
               '--out', str(out)])
    printed = capsys.readouterr().out
    assert "pseudo-labels (p' >= 0.05)" in printed
    assert 'precision 75.0%, recall 100.0%' in printed
    assert 'right on 50.0% of the scenes' in printed
    with pytest.raises(SystemExit):
        tool.parse_args([str(big), str(small), 'x', 'y', '--out', 'z',
                         '--threshold', '1.5'])
    assert "expected 'auto' or a number in (0, 1], got '1.5'" in \
        capsys.readouterr().err
    # 'auto' without labelled scenes
    small.write_text(json.dumps(dict(images=[], categories=cats,
                                     annotations=[])))
    with pytest.raises(ValueError, match=r'small\.json has none; give a '
                       'number'):
        tool.main([str(big), str(small), str(tmp_path / 'train'), str(soft),
                   '--out', str(tmp_path / 'never.json')])
    # a labelled scene missing from the larger split
    small.write_text(json.dumps(dict(
        images=[dict(id=5, file_name='other.png', height=32, width=40)],
        categories=cats, annotations=[])))
    with pytest.raises(ValueError, match=r'small\.json: 1 of its scenes are '
                       r'not in .*big\.json, e\.g\. other\.png'):
        tool.main([str(big), str(small), str(tmp_path / 'train'), str(soft),
                   '--out', str(tmp_path / 'never.json')])
    assert not (tmp_path / 'never.json').exists()


def test_pseudo_label_scenes_masked(tmp_path, repo_root, capsys,
                                    monkeypatch):
    """--mask-ann zeroes the teacher's scores of the classes a pseudo-
    labelled scene cannot hold (by the mask json, matched by file name)
    before thresholding, and writes those soft targets to --soft-out; the
    labelled scenes' soft targets stay as they were; the soft-target file
    is read once. A mask json that lacks a scene or has other categories is
    named, and nothing is written."""
    import mmengine

    from mmkdwsd.datasets import soft_targets
    tool = load_tool(repo_root, 'pseudo_label_scenes')
    loads = []
    real_load = soft_targets.load_soft_target_file

    def counted_load(filename):
        loads.append(filename)
        return real_load(filename)

    monkeypatch.setattr(soft_targets, 'load_soft_target_file', counted_load)
    images = [dict(id=i, file_name=f'img{i}.png', height=32, width=40)
              for i in range(3)]
    cats = [dict(id=9, name='nine'), dict(id=7, name='seven')]  # 7: class 0

    def split(path, pairs, imgs=images, categories=cats):
        path.write_text(json.dumps(dict(
            images=imgs, categories=categories,
            annotations=[dict(id=i + 1, image_id=img, category_id=cat,
                              bbox=[0, 0, 4, 4], area=16, iscrowd=0)
                         for i, (img, cat) in enumerate(pairs)])))
        return str(path)

    big = split(tmp_path / 'big.json', [(0, 7), (1, 9), (2, 7), (2, 9)])
    small = split(tmp_path / 'small.json', [(0, 7)], images[:1])
    # the mask: img1 cannot hold a '7' (the teacher's wrong label), img2
    # can hold both; img0 is labelled, its '9' score stays though the
    # mask excludes it
    mask = split(tmp_path / 'mask.json', [(0, 7), (1, 9), (2, 7), (2, 9)])
    soft = str(tmp_path / 'soft.pkl')
    targets = {'train/img0.png': np.array([0.1, 0.9], np.float32),
               'train/img1.png': np.array([0.6, 0.7], np.float32),
               'train/img2.png': np.array([0.5, 0.2], np.float32)}
    mmengine.dump(dict(meta=dict(num_classes=2), targets=targets), soft)
    out, soft_out = tmp_path / 'pseudo.json', tmp_path / 'masked.pkl'
    args = [big, small, str(tmp_path / 'train'), soft, '--threshold', '0.5']
    tool.main(args + ['--out', str(out), '--mask-ann', mask, '--soft-out',
                      str(soft_out)])
    printed = capsys.readouterr().out
    assert loads == [soft]
    assert 'removing 1 pseudo-labels' in printed
    assert 'precision 100.0%, recall 66.7%' in printed
    data = json.loads(out.read_text())
    assert sorted((a['image_id'], a['category_id'])
                  for a in data['annotations']) == [(0, 7), (1, 9), (2, 7)]
    assert data['info']['pseudo_labels']['mask_ann_file'] == mask
    masked = mmengine.load(str(soft_out))
    assert masked['meta']['mask_ann_file'] == mask
    assert masked['meta']['unmasked_file'] == soft
    np.testing.assert_array_equal(masked['targets']['train/img1.png'],
                                  np.array([0, 0.7], np.float32))
    for key in ('train/img0.png', 'train/img2.png'):
        np.testing.assert_array_equal(masked['targets'][key], targets[key])
    assert masked['targets']['train/img1.png'].dtype == np.float32
    # the two options go together
    with pytest.raises(SystemExit):
        tool.parse_args(args + ['--out', 'z', '--mask-ann', mask])
    assert '--mask-ann and --soft-out go together' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.parse_args(args + ['--out', 'z', '--mask-ann', mask,
                                '--soft-out', soft])
    assert 'is the soft-target file it masks' in capsys.readouterr().err
    # a mask json of another split, or with other categories
    never = ['--out', str(tmp_path / 'never.json'), '--soft-out',
             str(tmp_path / 'never.pkl')]
    other = split(tmp_path / 'other.json', [(1, 9)], images[:2])
    with pytest.raises(ValueError, match=r'other\.json: 1 of the scenes to '
                       r'pseudo-label are not in it, e\.g\. img2\.png'):
        tool.main(args + never + ['--mask-ann', other])
    other = split(tmp_path / 'other.json', [(1, 9)],
                  categories=cats + [dict(id=3, name='three')])
    with pytest.raises(ValueError, match=r"other\.json: category ids "
                       r"\[3, 7, 9\], expected the split's \[7, 9\]"):
        tool.main(args + never + ['--mask-ann', other])
    assert not list(tmp_path.glob('never.*'))


def test_upsampled_input_probe(tmp_path, repo_root, tiny_multidigits):
    """The probe feeds the 64 px network's own inputs, upsampled, to the
    reference checkpoint: evaluated before and after fine-tuning, both
    recorded in probe.json; a missing checkpoint is named."""
    import torch.nn.functional as F
    from mmengine.config import Config

    from mmkdwsd.registry import MODELS
    tool = load_tool(repo_root, 'upsampled_input_probe')
    work = str(tmp_path / 'probe')
    args = ['--work-dir', work, '--data-root', tiny_multidigits, '--workers',
            '0', '--epochs', '1']
    with pytest.raises(FileNotFoundError, match='nothing.pth: no such'):
        tool.main(['--checkpoint', str(tmp_path / 'nothing.pth')] + args)
    cfg = tool.build_config(tool.parse_args(['--checkpoint', 'x'] + args))
    pre = MODELS.build(cfg.model.data_preprocessor)
    plain = MODELS.build(cfg.model.data_preprocessor.preprocessor)
    batch = dict(inputs=[torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8)
                         for _ in range(2)], data_samples=None)
    out = pre(batch)['inputs']
    assert out.shape == (2, 3, 128, 128)
    torch.testing.assert_close(
        out, F.interpolate(plain(batch)['inputs'], size=(128, 128),
                           mode='bilinear', align_corners=False))
    # end to end from a (random) checkpoint of the reference's network
    reference = Config.fromfile(
        osp.join(repo_root, 'configs/benchmarks/resnet18-tiny_1xb64-30e_'
                 'multidigits-large-128px.py')).model
    ckpt = str(tmp_path / 'reference.pth')
    weights = MODELS.build(reference).state_dict()
    weights['backbone.conv1.weight'] += 1  # not what an init would draw
    torch.save(dict(state_dict=weights), ckpt)
    result = tool.main(['--checkpoint', ckpt, '--lr', '0'] + args)
    with open(osp.join(work, 'probe.json')) as f:
        assert json.load(f) == result
    assert set(result) >= {'before', 'after'}
    for when in ('before', 'after'):
        assert 0 <= result[when]['mAP'] <= 100
    # the fine-tuning started from the checkpoint (at lr 0 its weights stay)
    tuned = torch.load(osp.join(work, 'epoch_1.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    torch.testing.assert_close(tuned['backbone.conv1.weight'],
                               weights['backbone.conv1.weight'])


def test_top_box_report(tmp_path, repo_root, capsys):
    """Each (image, class)'s top box is a hit, too large, a part or
    elsewhere, as a tools/test.py --out dump holds it."""
    import mmengine
    tool = load_tool(repo_root, 'top_box_report')
    truth = [10., 10., 30., 30.]

    def sample(box, score_box=None):
        boxes = [box] + ([score_box] if score_box else [])
        return dict(
            pred_instances=dict(
                bboxes=torch.tensor(boxes),
                scores=torch.tensor([0.9, 0.5][:len(boxes)]),
                labels=torch.tensor([1] * len(boxes))),
            gt_instances=dict(bboxes=torch.tensor([truth, truth]),
                              labels=torch.tensor([1, 2])))

    dump = tmp_path / 'pred.pkl'
    mmengine.dump([
        sample([11., 11., 30., 30.], [0., 0., 5., 5.]),  # hit (top only)
        sample([0., 0., 60., 60.]),  # holds the object: too large
        sample([12., 12., 18., 18.]),  # inside it: a part
        sample([40., 40., 50., 50.]),  # elsewhere
    ], str(dump))
    tool.main([str(dump), '--names', 'teacher'])
    row = capsys.readouterr().out.splitlines()[-1]
    # 8 pairs: class 2 has no predicted box in any image (elsewhere)
    assert row.startswith('| teacher | 8 | 12.5% | 12.5% | 12.5% | 62.5% |')
    with pytest.raises(KeyError, match='sample 0 has no pred_instances'):
        mmengine.dump([dict(gt_instances={})], str(dump))
        tool.main([str(dump)])


def test_proposal_recall(tmp_path, repo_root, capsys):
    """Each true box's best proposal IoU, counted at 0.5 and 0.7, after the
    size filter and the per-image top-k, from files in the real formats
    (COCO annotations, generate_proposals.py's pickle)."""
    import mmengine
    tool = load_tool(repo_root, 'proposal_recall')
    ann = tmp_path / 'annotations' / 'instances_val.json'
    ann.parent.mkdir()
    ann.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='a.png', height=64, width=64),
                dict(id=2, file_name='b.png', height=64, width=64)],
        annotations=[
            dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 10, 10]),
            dict(id=2, image_id=1, category_id=2, bbox=[20, 20, 10, 10]),
            dict(id=3, image_id=2, category_id=1, bbox=[0, 0, 10, 10]),
            dict(id=4, image_id=2, category_id=1, bbox=[0, 0, 30, 30],
                 iscrowd=1)],
        categories=[dict(id=1, name='one'), dict(id=2, name='two')])))

    def props(*boxes):
        return dict(bboxes=np.array(boxes, dtype=np.float32),
                    scores=np.linspace(1, 0.5, len(boxes)).astype(np.float32))

    proposals = tmp_path / 'ss_val.pkl'
    mmengine.dump({
        # box 1: IoU 1 (second proposal); box 2: 100 / 160 = 0.625
        'val/a.png': props([40, 40, 60, 60], [0, 0, 10, 10],
                           [20, 20, 30, 36], [2, 2, 5, 5]),
        # box 3: IoU 0.5 exactly; the crowd box is not counted
        'val/b.png': props([0, 0, 10, 20]),
    }, str(proposals))
    tool.main([str(ann), str(proposals)])
    row = capsys.readouterr().out.splitlines()[-1]
    mean = (1 + 0.625 + 0.5) / 3
    assert row == (f'| {proposals} | 2 | 3 | 2.5 | 100.0% | 33.3% | '
                   f'{mean:.3f} |')
    # the first proposal of a alone: box 1 and box 2 are lost
    tool.main([str(ann), str(proposals), '--topk', '1'])
    row = capsys.readouterr().out.splitlines()[-1]
    assert '| 1.0 | 33.3% | 0.0% | 0.167 |' in row
    # the 3 px proposal is dropped at --min-size 4
    tool.main([str(ann), str(proposals), '--min-size', '4'])
    assert '| 2.0 | 100.0% |' in capsys.readouterr().out
    mmengine.dump({'val/a.png': props([0, 0, 10, 10])}, str(proposals))
    with pytest.raises(KeyError, match=r"ss_val.pkl: no proposals for "
                       r"image 'val/b.png'"):
        tool.main([str(ann), str(proposals)])


def test_refine_seed_counts(repo_root):
    """Seeds of one class both ways against the true boxes: OICR's lone
    best region is wrong, the densest cluster's centre right."""
    tool = load_tool(repo_root, 'refine_seed_report')
    from mmkdwsd.models.roi_heads.bbox_heads.pseudo_labels import \
        check_seeds_cfg
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.],
                          [0., 1., 10., 11.], [50., 50., 60., 60.],
                          [80., 80., 90., 90.]])
    scores = torch.tensor([[0.6], [0.5], [0.4], [0.9], [0.0]])
    truth = torch.tensor([[0., 0., 10., 10.], [80., 80., 90., 90.]])
    labels = torch.tensor([0, 0])
    rows = {}
    for kind, cfg in (('top', None),
                      ('graph', dict(type='graph', top_ratio=0.8,
                                     max_centers=3))):
        counts = dict.fromkeys(('pairs', 'seeds', 'right', 'weight',
                                'right_weight', 'first', 'any', 'boxes',
                                'found'), 0)
        tool.count_seeds(counts, boxes, scores, truth, labels,
                         check_seeds_cfg(cfg))
        rows[kind] = tool.table_row('t', 'WSDDN', kind, counts)
    # one seed (region 3, 0.9): on no true box
    assert rows['top'][3:] == ['1.00', '0.0%', '0.0%', '0.0%', '0.0%',
                               '0.0%']
    # seeds 0 (cluster 0-2, scored 0.6) and 3 (0.9): half of them right,
    # 0.6 of 1.5 of the weight; the first right; one of two boxes found
    assert rows['graph'][3:] == ['2.00', '50.0%', '40.0%', '100.0%',
                                 '100.0%', '50.0%']


def test_refine_seed_report_tiny(repo_root, tiny_multidigits, tmp_path,
                                 capsys):
    """The report runs a real OICR teacher (untrained weights) over real
    MultiDigits val scenes: one row per stream and seeding."""
    from mmengine.config import Config

    from mmkdwsd.registry import MODELS
    tool = load_tool(repo_root, 'refine_seed_report')
    config = osp.join(repo_root, 'configs', 'wsddn',
                      'oicr_resnet18-tiny_1xb8-6e_multidigits.py')
    model = MODELS.build(Config.fromfile(config).model)
    ckpt = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    opts = ['--cfg-options',
            f'val_dataloader.dataset.data_root={tiny_multidigits}/',
            'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False',
            'val_dataloader.batch_size=4']
    rows = tool.main([config, str(ckpt), '--max-images', '6', '--name',
                      'oicr', '--graph', 'max_centers=2', '--no-progress'] +
                     opts)
    out = capsys.readouterr().out
    assert 'refinement seeds on 6 images' in out
    assert [r[1] for r in rows] == ['WSDDN', 'WSDDN', 'refinement 1',
                                    'refinement 1', 'refinement 2',
                                    'refinement 2', 'refinement 3',
                                    'refinement 3']
    for row in rows:
        per_pair = float(row[3])
        if row[2].startswith('best region'):
            assert per_pair == 1.0
            assert row[6] == row[7]  # one seed: first right = any right
        else:
            assert 'up to 2' in row[2] and 1.0 <= per_pair <= 2.0
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        tool.main([config, str(tmp_path / 'missing.pth')] + opts)


def test_wsddn_stream_eval_tiny(repo_root, tiny_multidigits, tmp_path,
                                capsys):
    """A finished (untrained) OICR teacher run is evaluated once more by
    its WSDDN streams through tools/test.py; a second call reuses the
    stored metrics, and a run without done.json is named in the error."""
    from mmengine.config import Config
    from mmengine.logging import MessageHub

    from mmkdwsd.registry import MODELS
    tool = load_tool(repo_root, 'wsddn_stream_eval')
    config = osp.join(repo_root, 'configs', 'wsddn',
                      'oicr_resnet18-tiny_1xb8-6e_multidigits.py')
    cfg = Config.fromfile(config)
    cfg.model.roi_head.bbox_head.refine_grad_scale = 0.0
    refined = dict(CorLoc=12.5, det_mAP=3.25, mAP=50.0)

    def finished_run(name, cfg, config):
        run = tmp_path / name / 'seed0'
        run.mkdir(parents=True)
        cfg.dump(str(run / osp.basename(config)))
        ckpt = run / 'epoch_1.pth'
        # as a runner writes it: the message hub holds a HistoryBuffer,
        # which torch.load(weights_only=True) refuses
        hub = MessageHub.get_instance('wsddn_stream_eval_test')
        hub.update_scalar('train/loss', 1.0)
        torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(),
                        message_hub=hub.state_dict()), ckpt)
        (run / 'done.json').write_text(json.dumps(dict(
            config=config, checkpoint=str(ckpt), metrics=refined)))
        return ckpt

    finished_run('teacher_oicr', cfg, config)
    argv = [str(tmp_path), '--teachers', 'teacher_oicr', '--seeds', '0',
            '--cfg-options',
            f'test_dataloader.dataset.data_root={tiny_multidigits}/',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']
    rows = tool.main(argv)
    out = capsys.readouterr().out
    assert 'by its WSDDN streams' in out
    assert '### Refined teachers by their own WSDDN streams' in out
    assert len(rows) == 1 and rows[0][:4] == ['teacher_oicr', 0, '12.5',
                                              '3.2']
    streams = tool.latest_metrics(
        str(tmp_path / 'wsddn_streams' / 'teacher_oicr' / 'seed0'))
    assert 0.0 <= streams['CorLoc'] <= 100.0
    assert rows[0][4] == f"{streams['CorLoc']:.1f}"
    assert rows[0][6:] == ['-', '-']  # no plain WSDDN run here
    assert tool.main(argv) == rows
    assert 'evaluating' not in capsys.readouterr().out  # reused
    with pytest.raises(FileNotFoundError, match='seed1.*done.json'):
        tool.main(argv[:3] + ['--seeds', '1'])
    # the twin: the WSDDN streams as a finished plain WSDDN run, with the
    # run's own config less the refinement; no plain run needed
    twin0 = tmp_path / 'twin0'
    rows = tool.main(argv + ['--export-twin', str(twin0)])
    assert rows[0][6:] == ['-', '-']
    done = json.loads(
        (twin0 / 'teacher_wsddn' / 'seed0' / 'done.json').read_text())
    assert done['config'] == tool.plain_experiment_config('teacher_wsddn')
    twin_cfg = Config.fromfile(
        str(twin0 / 'teacher_wsddn' / 'seed0' /
            osp.basename(done['config'])))
    head = twin_cfg.model.roi_head.bbox_head
    assert not [k for k in head if 'refine' in k]
    assert twin_cfg.train_cfg == cfg.train_cfg  # trained as the run was
    twin_model = MODELS.build(twin_cfg.model)
    assert not twin_model.roi_head.bbox_head.with_refine
    twin_model.load_state_dict(torch.load(
        done['checkpoint'], map_location='cpu',
        weights_only=False)['state_dict'])  # strict
    with pytest.raises(ValueError, match="'wsddn_x' is not an accuracy"):
        tool.main(argv + ['--export-twin', str(twin0), '--plain',
                          'wsddn_x'])
    plain_config = osp.join(repo_root, 'configs', 'wsddn',
                            'wsddn_resnet18-tiny_1xb8-6e_multidigits.py')
    finished_run('teacher_wsddn', Config.fromfile(plain_config),
                 plain_config)
    twin = tmp_path / 'twin'
    for name in ('reference', 'kd_stage1', 'kd_stage1_oicr'):
        (tmp_path / name / 'seed0').mkdir(parents=True)
    (twin / 'reference').mkdir(parents=True)  # the twin's own: kept
    rows = tool.main(argv + ['--export-twin', str(twin)])
    assert rows[0][6:] == ['12.5', '3.2']  # the plain run's, now present
    # the runs that do not depend on the plain WSDDN teacher are linked
    linked = {p.name for p in twin.iterdir() if p.is_symlink()}
    assert linked == {'teacher_oicr', 'kd_stage1_oicr'}
    assert ((twin / 'teacher_oicr').resolve() ==
            (tmp_path / 'teacher_oicr').resolve())
    assert 'linked from' in capsys.readouterr().out
    out = twin / 'teacher_wsddn' / 'seed0'
    done = json.loads((out / 'done.json').read_text())
    assert done['metrics']['CorLoc'] == streams['CorLoc']
    assert done['config'] == plain_config
    assert done['twin_of'].endswith(osp.join('teacher_oicr', 'seed0'))
    assert (out / osp.basename(plain_config)).is_file()
    plain = MODELS.build(Config.fromfile(plain_config).model)
    state = torch.load(done['checkpoint'], map_location='cpu',
                       weights_only=False)['state_dict']
    plain.load_state_dict(state)  # strict: exactly a plain WSDDN's keys
    # refinement that reshaped the features: not a plain WSDDN twin
    cfg.model.roi_head.bbox_head.refine_grad_scale = 1.0
    (tmp_path / 'teacher_oicr').rename(tmp_path / 'old')
    finished_run('teacher_oicr', cfg, config)
    with pytest.raises(ValueError, match='refine_grad_scale is 1.0'):
        tool.main(argv + ['--export-twin', str(twin)])
