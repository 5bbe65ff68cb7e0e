# Copyright (c) mmkdwsd authors. All rights reserved.
"""PreDecodedDataPreprocessor gives what the per-image pipelines give: the
same pixels (up to mmcv's rounding to uint8), the same proposals, labels
and metainfo, for the detector view, the classifier view and both."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmkdwsd.datasets import PreDecodedDataset
from mmkdwsd.registry import DATASETS, MODELS

MEAN_STD = dict(mean=[0., 0., 0.], std=[1., 1., 1.])
DET = dict(type='mmdet.DetDataPreprocessor', **MEAN_STD)
CLS = dict(type='mmpretrain.ClsDataPreprocessor', **MEAN_STD)
INDICES = [3, 1, 2, 7]


def _inner(root, pipeline=()):
    return dict(
        type='CocoMultiLabelDataset',
        data_root=root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        proposal_file='proposals/ss_train.pkl',
        pipeline=list(pipeline))


def _det_pipeline(flip: bool, size: int):
    return [
        dict(type='LoadImageSafe'),
        dict(type='mmdet.LoadProposals', num_max_proposals=500),
        dict(
            type='mmdet.ProposalBroadcaster',
            transforms=[
                dict(type='mmdet.RandomFlip', prob=float(flip)),
                dict(
                    type='mmdet.Resize', scale=(size, size), keep_ratio=False),
            ]),
        dict(type='PackWSODInputs'),
    ]


def _cls_pipeline(flip: bool, size: int):
    return [
        dict(type='LoadImageSafe'),
        dict(type='RandomFlip', prob=float(flip), direction='horizontal'),
        dict(type='Resize', scale=(size, size), keep_ratio=False),
        dict(type='mmpretrain.PackInputs'),
    ]


def _reference(root, pipeline, preprocessor):
    dataset = DATASETS.build(_inner(root, pipeline))
    batch = pseudo_collate([dataset[i] for i in INDICES])
    return MODELS.build(preprocessor)(batch, False)


@pytest.fixture
def batch(tiny_multidigits):
    dataset = PreDecodedDataset(_inner(tiny_multidigits))
    return dataset.__getitems__(INDICES)[0]


@pytest.mark.parametrize('flip', [False, True])
def test_det_view_matches_the_pipeline(tiny_multidigits, batch, flip):
    processor = MODELS.build(
        dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=DET,
            views=[dict(pack='det', scales=[64])],
            flip_prob=float(flip)))
    out = processor(batch, training=True)
    ref = _reference(tiny_multidigits, _det_pipeline(flip, 64), DET)
    assert out['inputs'].shape == ref['inputs'].shape == (4, 3, 64, 64)
    assert (out['inputs'] - ref['inputs']).abs().max() <= 0.5
    for ours, theirs in zip(out['data_samples'], ref['data_samples']):
        torch.testing.assert_close(ours.proposals.bboxes,
                                   theirs.proposals.bboxes)
        assert len(ours.proposals.scores) == len(ours.proposals.bboxes)
        assert ours.gt_label.tolist() == theirs.gt_label.tolist()
        assert ours.gt_label_ignore.tolist() == []
        for key in ('img_path', 'img_shape', 'ori_shape', 'flip',
                    'batch_input_shape'):
            assert ours.metainfo[key] == theirs.metainfo[key], key
        np.testing.assert_allclose(ours.scale_factor, theirs.scale_factor)


def test_cls_view_matches_the_pipeline(tiny_multidigits, batch):
    processor = MODELS.build(
        dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=CLS,
            views=[dict(pack='cls', scales=[(96, 64)])],
            flip_prob=1.0))
    out = processor(batch, training=True)
    dataset = DATASETS.build(_inner(tiny_multidigits))
    pipeline = _cls_pipeline(True, 0)
    pipeline[2]['scale'] = (96, 64)  # (w, h)
    ref = _reference(tiny_multidigits, pipeline, CLS)
    assert out['inputs'].shape == ref['inputs'].shape == (4, 3, 64, 96)
    # cv2 interpolates in fixed point: within one grey level at 0.75x
    assert (out['inputs'] - ref['inputs']).abs().max() <= 1.0
    for i, (ours, theirs) in enumerate(
            zip(out['data_samples'], ref['data_samples'])):
        assert ours.gt_label.tolist() == theirs.gt_label.tolist()
        hot = torch.zeros(len(dataset.metainfo['classes']))
        hot[theirs.gt_label] = 1
        torch.testing.assert_close(ours.gt_score, hot)
        assert ours.img_shape == (64, 96) and ours.flip


def _two_views(flip_prob: float):
    """A distiller's preprocessor: teacher (det) 64 px, student (cls) 32."""
    return MODELS.build(
        dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=dict(
                type='KDDataPreprocessor', teacher=DET, student=CLS),
            views=[
                dict(branch='teacher', pack='det', scales=[64]),
                dict(branch='student', pack='cls', scales=[32]),
            ],
            flip_prob=flip_prob))


def test_two_views_share_the_flip(tiny_multidigits, batch):
    processor = _two_views(flip_prob=0.5)
    torch.manual_seed(1)
    out = processor(batch, training=True)
    teacher, student = out['inputs']['teacher'], out['inputs']['student']
    assert teacher.shape == (4, 3, 64, 64) and student.shape == (4, 3, 32, 32)
    flips = [s.flip for s in out['data_samples']['student']]
    assert flips == [s.flip for s in out['data_samples']['teacher']]
    assert any(flips) and not all(flips)
    # both views are the same flipped image, resized
    images = batch['images'].permute(0, 3, 1, 2).float()
    images[flips] = images[flips].flip(-1)
    for view, size in ((teacher, 64), (student, 32)):
        expected = torch.nn.functional.interpolate(
            images, size=(size, size), mode='bilinear', align_corners=False)
        torch.testing.assert_close(view, expected)
    # no flips outside training
    out = processor(batch, training=False)
    assert not any(s.flip for s in out['data_samples']['student'])


@pytest.mark.parametrize('flip', [False, True])
def test_cache_at_the_view_scale_gives_the_full_caches_inputs(
        tiny_multidigits, batch, flip):
    """Images stored at 64 px (``cache_scale``) give the 64 px views of the
    full-size cache within the rounding to uint8, and the same proposals,
    scale factors and metainfo; a view larger than them is refused."""
    small = PreDecodedDataset(
        _inner(tiny_multidigits), cache_scale=64).__getitems__(INDICES)[0]
    assert small['images'].shape == (4, 64, 64, 3)
    processor = _two_views(flip_prob=float(flip))
    out, ref = processor(small, True), processor(batch, True)
    for branch in ('teacher', 'student'):
        assert out['inputs'][branch].shape == ref['inputs'][branch].shape
    # at the stored scale only the rounding
    diff = out['inputs']['teacher'] - ref['inputs']['teacher']
    assert 0 < diff.abs().max() <= 0.5
    # a smaller view is resized from the stored images (bilinear does not
    # compose: 128 -> 64 -> 32 is not 128 -> 32)
    images = small['images'].permute(0, 3, 1, 2).float()
    if flip:
        images = images.flip(-1)
    torch.testing.assert_close(
        out['inputs']['student'],
        torch.nn.functional.interpolate(
            images, size=(32, 32), mode='bilinear', align_corners=False))
    for ours, theirs in zip(out['data_samples']['teacher'],
                            ref['data_samples']['teacher']):
        assert ours.flip == theirs.flip == flip
        torch.testing.assert_close(ours.proposals.bboxes,
                                   theirs.proposals.bboxes)
        for key in ('img_shape', 'ori_shape', 'scale_factor'):
            assert ours.metainfo[key] == theirs.metainfo[key], key
    # an 80 px view would upsample the 64 px images: refused, named
    processor = MODELS.build(
        dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=DET,
            views=[dict(pack='det', scales=[80])]))
    with pytest.raises(ValueError, match='stored at 64x64.*cache_scale'):
        processor(small, True)
    assert processor(batch, True)['inputs'].shape == (4, 3, 80, 80)


def test_soft_targets_of_the_view_each_image_gets(batch):
    """Soft targets cached with the flipped view, (B, 2, K): each student
    sample gets row 1 where its image was flipped, row 0 elsewhere; (B, K)
    ones pass as they are."""
    processor = MODELS.build(
        dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=CLS,
            views=[dict(pack='cls', scales=[32])],
            flip_prob=0.5))
    num = len(INDICES)
    both = torch.rand(num, 2, 10)
    torch.manual_seed(1)
    samples = processor(dict(batch, soft_targets=both),
                        training=True)['data_samples']
    flips = [s.flip for s in samples]
    assert any(flips) and not all(flips)
    for i, sample in enumerate(samples):
        torch.testing.assert_close(sample.soft_target, both[i, int(flips[i])])
    samples = processor(dict(batch, soft_targets=both),
                        training=False)['data_samples']
    for i, sample in enumerate(samples):
        torch.testing.assert_close(sample.soft_target, both[i, 0])
    samples = processor(dict(batch, soft_targets=both[:, 1]),
                        training=True)['data_samples']
    for i, sample in enumerate(samples):
        torch.testing.assert_close(sample.soft_target, both[i, 1])


def test_multi_scale_and_pass_through(tiny_multidigits, batch):
    processor = MODELS.build(
        dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=DET,
            views=[dict(pack='det', scales=[48, 64, 80])]))
    before = [dict(meta) for meta in batch['metainfo']]
    outs = [processor(batch, True) for _ in range(12)]
    sizes = {out['inputs'].shape[-1] for out in outs}
    assert sizes <= {48, 64, 80} and len(sizes) > 1
    # each batch's samples keep their own metainfo (set without a deep
    # copy), and the dataset's is untouched
    for out in outs:
        size = out['inputs'].shape[-1]
        assert all(s.img_shape == (size, size) for s in out['data_samples'])
    assert batch['metainfo'] == before
    assert processor(batch, False)['inputs'].shape[-1] == 48
    # a batch of the per-image pipeline goes to the wrapped preprocessor
    dataset = DATASETS.build(
        _inner(tiny_multidigits, _det_pipeline(False, 64)))
    plain = pseudo_collate([dataset[0], dataset[1]])
    out = processor(plain, False)
    assert out['inputs'].shape == (2, 3, 64, 64)


@pytest.mark.parametrize('cache_scale', [None, 64])
def test_translation_moves_each_image_and_its_proposals(
        tiny_multidigits, cache_scale):
    """In training each image moves by its own whole-pixel offset within
    the ratio, the uncovered border reflected, and its proposals (clipped
    to the image) with it, also from a cache stored below the originals'
    size; outside training nothing moves."""
    batch = PreDecodedDataset(
        _inner(tiny_multidigits),
        cache_scale=cache_scale).__getitems__(INDICES)[0]
    num, height, width = batch['images'].shape[:3]

    def build(ratio):
        return MODELS.build(
            dict(
                type='PreDecodedDataPreprocessor',
                preprocessor=DET,
                views=[dict(pack='det', scales=[(width, height)])],
                max_translate_ratio=ratio))

    ref = build(0)(batch, True)
    torch.manual_seed(0)
    out = build(0.125)(batch, True)
    pad_x, pad_y = round(0.125 * width), round(0.125 * height)
    padded = torch.nn.functional.pad(
        ref['inputs'], (pad_x, pad_x, pad_y, pad_y), mode='reflect')
    shifts = []
    for i in range(num):
        matches = [(dx, dy) for dx in range(-pad_x, pad_x + 1)
                   for dy in range(-pad_y, pad_y + 1) if torch.equal(
                       out['inputs'][i],
                       padded[i, :, pad_y - dy:pad_y - dy + height,
                              pad_x - dx:pad_x - dx + width])]
        assert len(matches) == 1, matches
        shifts.append(matches[0])
        dx, dy = matches[0]
        boxes = ref['data_samples'][i].proposals.bboxes
        expected = torch.minimum(
            (boxes + boxes.new_tensor([dx, dy, dx, dy])).clamp(min=0),
            boxes.new_tensor([width, height, width, height]))
        torch.testing.assert_close(out['data_samples'][i].proposals.bboxes,
                                   expected)
    assert len(set(shifts)) > 1
    assert torch.equal(build(0.125)(batch, False)['inputs'], ref['inputs'])


@pytest.mark.parametrize('kwargs, message', [
    (dict(views=[dict(pack='image', scales=[32])]), "pack='cls'"),
    (dict(views=[dict(pack='cls')]), 'needs scales'),
    (dict(views=[dict(pack='cls', scales=[32]),
                 dict(pack='det', scales=[32])]), 'distinct branches'),
    (dict(views=[dict(pack='cls', scales=[32])], flip_prob=2), 'flip_prob'),
    (dict(views=[dict(pack='cls', scales=[32])], max_translate_ratio=0.5),
     'max_translate_ratio'),
])
def test_bad_configs_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MODELS.build(
            dict(type='PreDecodedDataPreprocessor', preprocessor=CLS,
                 **kwargs))


def test_det_view_without_proposals_is_named(tiny_multidigits):
    inner = _inner(tiny_multidigits)
    inner.pop('proposal_file')
    batch = PreDecodedDataset(inner).__getitems__([0])[0]
    processor = MODELS.build(
        dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=DET,
            views=[dict(pack='det', scales=[64])]))
    with pytest.raises(KeyError, match='proposal_file'):
        processor(batch, False)


def test_distiller_wraps_its_kd_preprocessor():
    from mmkdwsd.models.distillers import kd_preprocessor_cfg
    wrapped_teacher = dict(
        data_preprocessor=dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=DET,
            views=[dict(pack='det', scales=[64])]))
    student = dict(data_preprocessor=CLS)
    views = [
        dict(branch='teacher', pack='det', scales=[64]),
        dict(branch='student', pack='cls', scales=[32]),
    ]
    cfg = kd_preprocessor_cfg(
        dict(type='PreDecodedDataPreprocessor', views=views),
        wrapped_teacher, student)
    # the distiller's KDDataPreprocessor, inside; the teacher config's own
    # fast-path wrapper unwrapped to its DetDataPreprocessor
    assert cfg['preprocessor'] == dict(
        type='KDDataPreprocessor', teacher=DET, student=CLS)
    assert kd_preprocessor_cfg(
        None, wrapped_teacher, student)['teacher'] == DET
    processor = MODELS.build(cfg).cpu()
    assert processor.preprocessor.teacher.device == torch.device('cpu')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu(batch):
    cfg = dict(
        type='PreDecodedDataPreprocessor',
        preprocessor=dict(type='KDDataPreprocessor', teacher=DET,
                          student=CLS),
        views=[
            dict(branch='teacher', pack='det', scales=[64]),
            dict(branch='student', pack='cls', scales=[32]),
        ],
        flip_prob=0.5)
    outs = []
    for device in ('cpu', 'cuda'):
        processor = MODELS.build(cfg).to(device)
        torch.manual_seed(3)  # the same flips
        outs.append(processor(batch, training=True))
    cpu, cuda = outs
    for branch in ('teacher', 'student'):
        assert cuda['inputs'][branch].is_cuda
        torch.testing.assert_close(cuda['inputs'][branch].cpu(),
                                   cpu['inputs'][branch], atol=1e-3,
                                   rtol=0)
    for ours, ref in zip(cuda['data_samples']['teacher'],
                         cpu['data_samples']['teacher']):
        assert ours.proposals.bboxes.is_cuda and ours.gt_label.is_cuda
        torch.testing.assert_close(ours.proposals.bboxes.cpu(),
                                   ref.proposals.bboxes)
        assert ours.flip == ref.flip
    for ours in cuda['data_samples']['student']:
        assert ours.gt_score.is_cuda


def test_packed_teacher_samples_are_not_copied_to_their_own_device():
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from mmkdwsd.models.data_preprocessors import \
        predecoded_data_preprocessor as module
    sample = module._PackedDetDataSample(metainfo=dict(img_shape=(8, 8)))
    sample.proposals = InstanceData(bboxes=torch.zeros(3, 4))
    sample.gt_label = torch.tensor([1])
    assert isinstance(sample, DetDataSample)
    # what mmdet's preprocessor does to every sample: here, nothing
    assert sample.to('cpu', non_blocking=True) is sample
    assert sample.to(torch.device('cpu')) is sample
    # anything else is MMEngine's copy
    doubled = sample.to(torch.float64)
    assert doubled is not sample
    assert doubled.proposals.bboxes.dtype == torch.float64
    assert sample.proposals.bboxes.dtype == torch.float32
    if torch.cuda.is_available():
        moved = sample.to('cuda')
        assert moved is not sample and moved.proposals.bboxes.is_cuda
        assert moved.to('cuda') is moved
