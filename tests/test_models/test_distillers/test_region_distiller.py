# Copyright (c) mmkdwsd authors. All rights reserved.
"""RegionDistiller: region selection weights and the teacher-to-student
box scaling."""
import pytest
import torch
from mmengine.structures import InstanceData

from mmkdwsd.registry import MODELS
from mmkdwsd.utils import register_all_modules

register_all_modules(init_default_scope=False)


def _distiller(**kwargs):
    return MODELS.build(
        dict(type='RegionDistiller', in_channels=4, out_channels=6,
             hidden_channels=(8, ), roi_size=2, **kwargs))


def _teacher_out(objectness):
    torch.manual_seed(0)
    proposals, feats = [], []
    for scores in objectness:
        xy = torch.rand(len(scores), 2) * 30
        proposals.append(torch.cat([xy, xy + 10 + torch.rand(len(scores), 2)
                                    * 20], 1))
        feats.append(torch.rand(len(scores), 6))
    return dict(proposals=proposals, region_feats=feats,
                proposal_scores=[torch.as_tensor(s) for s in objectness])


def test_objectness_weights_have_mean_one_or_fall_back_to_ones():
    out = _teacher_out([[0.2, 0.6, 1.0], [0.0, 0.0]])
    (i0, w0), (i1, w1) = _distiller().select_regions(out, [None, None])
    torch.testing.assert_close(w0, torch.tensor([0.2, 0.6, 1.0]) / 0.6)
    assert i1.tolist() == [0, 1]
    torch.testing.assert_close(w1, torch.ones(2))  # all-zero objectness


def test_num_sampled_bounds_the_regions():
    out = _teacher_out([[1.0] * 10, [1.0] * 3])
    (i0, _), (i1, _) = _distiller(num_sampled=4).select_regions(
        out, [None, None])
    assert len(i0) == 4 and len(set(i0.tolist())) == 4
    assert sorted(i1.tolist()) == [0, 1, 2]


def test_boxes_are_scaled_to_the_student_input():
    distiller = _distiller(objectness_weight=False)
    out = _teacher_out([[1.0] * 5, [1.0] * 3])
    feat_map = torch.rand(2, 4, 8, 8)
    student = torch.zeros(2, 3, 32, 32)
    scales = [(0.5, 0.5), (0.25, 0.5)]
    loss = distiller(feat_map, student, out, scales, [None, None])
    boxes = [p * torch.tensor([sx, sy, sx, sy])
             for p, (sx, sy) in zip(out['proposals'], scales)]
    pred = distiller.projector(distiller.pool(feat_map, student, boxes))
    target = torch.cat(out['region_feats'])
    expected = distiller.loss_feat(pred, target, torch.ones(8),
                                   avg_factor=8)
    torch.testing.assert_close(loss, expected)
    # a different scale gives a different loss: the scaling is used
    other = distiller(feat_map, student, out, [(1.0, 1.0)] * 2,
                      [None, None])
    assert not torch.allclose(loss, other)


def test_batched_sampling_draws_distinct_regions_per_image():
    distiller = _distiller(num_sampled=4)
    objectness = torch.tensor([[0.1, 0.5, 0.9, 0.3, 0.7, 0.2],
                               [0.0] * 6])
    index, weight = distiller.sample_batched(objectness)
    assert index.shape == weight.shape == (2, 4)
    for row in index.tolist():
        assert len(set(row)) == 4 and all(0 <= i < 6 for i in row)
    torch.testing.assert_close(weight[0].mean(), torch.tensor(1.))
    torch.testing.assert_close(weight[0] / weight[0, 0],
                               objectness[0, index[0]] /
                               objectness[0, index[0, 0]])
    torch.testing.assert_close(weight[1], torch.ones(4))  # all-zero scores
    # draws differ from step to step
    draws = {tuple(distiller.sample_batched(objectness)[0][0].tolist())
             for _ in range(10)}
    assert len(draws) > 1


@pytest.mark.parametrize('split', [False, True],
                         ids=['separate-features', 'split-features'])
def test_batched_gather_equals_the_per_image_gather(split):
    distiller = _distiller(num_sampled=3)
    out = _teacher_out([[0.5] * 7, [0.2] * 7, [0.9] * 7])
    if split:  # as the teacher returns them: views of one (N * R, D)
        out['region_feats'] = list(torch.cat(out['region_feats']).split(7))
    assert distiller.batched(out)
    index, weight = distiller.sample_batched(
        torch.stack(out['proposal_scores']))
    factors = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.25, 0.5, 0.25, 0.5],
                            [1., 1., 1., 1.]])
    batched = distiller.gather_batched(index, weight, out, factors)
    per_image = distiller.gather(list(zip(index, weight)), out, factors)
    for ours, theirs in zip(batched, per_image):
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize('split', [False, True],
                         ids=['separate-features', 'split-features'])
def test_batched_gather_of_all_regions_equals_the_per_image_gather(split):
    distiller = _distiller()
    out = _teacher_out([[0.5, 0.1, 0.4], [0.0] * 3, [0.9, 0.3, 0.6]])
    if split:
        out['region_feats'] = list(torch.cat(out['region_feats']).split(3))
    factors = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.25, 0.5, 0.25, 0.5],
                            [1., 1., 1., 1.]])
    batched = distiller.gather_batched(
        None, distiller.objectness_weights(
            torch.stack(out['proposal_scores'])), out, factors)
    per_image = distiller.gather(
        distiller.select_regions(out, [None] * 3), out, factors)
    for ours, theirs in zip(batched, per_image):
        torch.testing.assert_close(ours, theirs)


def test_batched_only_where_it_applies():
    same = _teacher_out([[1.0] * 6, [1.0] * 6])
    ragged = _teacher_out([[1.0] * 6, [1.0] * 5])
    assert _distiller(num_sampled=4).batched(same)
    assert not _distiller(num_sampled=4).batched(ragged)
    assert not _distiller().batched(ragged)
    assert _distiller(num_sampled=6).batched(same)  # all of them
    assert _distiller().batched(same)  # no sampling
    assert not _distiller(regions='topk', num_sampled=4).batched(same)
    # and the loss goes through it, sampled or not; unsampled, with the
    # per-image path's value
    feat_map, student = torch.rand(2, 4, 8, 8), torch.zeros(2, 3, 32, 32)
    loss = _distiller(num_sampled=4)(feat_map, student, same,
                                     [(0.5, 0.5)] * 2, [None, None])
    assert torch.isfinite(loss) and loss > 0
    distiller = _distiller()
    loss = distiller(feat_map, student, same, [(0.5, 0.5)] * 2, [None, None])
    rois, target, weight = distiller.gather(  # the per-image path
        distiller.select_regions(same, [None] * 2), same,
        torch.full((2, 4), 0.5))
    pred = distiller.projector(distiller.pool_rois(feat_map, student, rois))
    ragged_loss = distiller.loss_feat(pred, target, weight,
                                      avg_factor=len(target))
    torch.testing.assert_close(loss, ragged_loss)


def _proposals(out):
    return [
        InstanceData(bboxes=b, scores=sc)
        for b, sc in zip(out['proposals'], out['proposal_scores'])
    ]


def test_draw_proposals_only_where_it_applies():
    same = _proposals(_teacher_out([[1.0] * 6, [1.0] * 6]))
    assert _distiller().draw_proposals(same) is None  # no num_sampled
    assert _distiller(num_sampled=6).draw_proposals(same) is None  # all
    # 'topk' selects by the teacher's scores: nothing to draw before it
    assert _distiller(regions='topk', num_sampled=4).draw_proposals(
        same) is None


@pytest.mark.parametrize('counts', [(6, 6), (6, 3)], ids=['same', 'ragged'])
def test_drawing_before_the_teacher_gives_the_same_loss(counts):
    """Drawing the regions first (the teacher then computes the features of
    those alone) is the draw forward() makes: same regions, weights, loss."""
    out = _teacher_out([[0.1 * (i + 1) for i in range(n)] for n in counts])
    distiller = _distiller(num_sampled=4)
    feat_map, student = torch.rand(2, 4, 8, 8), torch.zeros(2, 3, 32, 32)
    scales, labels = [(0.5, 0.5)] * 2, [None, None]
    torch.manual_seed(1)
    drawn = distiller.draw_proposals(_proposals(out))
    assert [len(p) for p in drawn] == [min(n, 4) for n in counts]
    rows = []
    for p, boxes, scores in zip(drawn, out['proposals'],
                                out['proposal_scores']):
        # each drawn region is one of the image's, with its own score
        index = [int((boxes == b).all(1).nonzero()) for b in p.bboxes]
        assert len(set(index)) == len(index)
        torch.testing.assert_close(p.scores, scores[index])
        rows.append(index)
    drawn_out = dict(
        proposals=[p.bboxes for p in drawn],
        proposal_scores=[p.scores for p in drawn],
        region_feats=[f[i] for f, i in zip(out['region_feats'], rows)])
    loss = distiller(feat_map, student, drawn_out, scales, labels)
    torch.manual_seed(1)  # forward() draws the same regions itself
    torch.testing.assert_close(
        loss, distiller(feat_map, student, out, scales, labels))
    # and another draw gives another loss: the draw is used
    torch.manual_seed(2)
    assert not torch.allclose(
        loss, distiller(feat_map, student, out, scales, labels))


@pytest.mark.parametrize('num_sampled', [None, 4])
def test_separable_roi_op_gives_the_mmcv_loss_and_gradients(
        num_sampled, monkeypatch):
    from mmkdwsd.models.distillers import region_distiller
    mmcv_roi_align = region_distiller.roi_align
    same = _teacher_out([[0.5, 0.1, 0.4, 0.2, 0.9, 0.3]] * 3)
    feat_map = torch.rand(3, 4, 8, 8)
    student = torch.zeros(3, 3, 32, 32)
    results = []
    for roi_op in ('mmcv', 'separable'):
        if roi_op == 'separable':  # the same region count: not mmcv's
            monkeypatch.setattr(region_distiller, 'roi_align', None)
        torch.manual_seed(0)  # same weights, same sampled regions
        distiller = _distiller(roi_op=roi_op, num_sampled=num_sampled)
        feats = feat_map.clone().requires_grad_()
        loss = distiller(feats, student, same, [(0.5, 0.5)] * 3, [None] * 3)
        loss.backward()
        results.append((loss, feats.grad))
    monkeypatch.setattr(region_distiller, 'roi_align', mmcv_roi_align)
    (loss_mmcv, grad_mmcv), (loss_sep, grad_sep) = results
    torch.testing.assert_close(loss_sep, loss_mmcv)
    torch.testing.assert_close(grad_sep, grad_mmcv)
    assert grad_mmcv.abs().sum() > 0
    # different region counts per image: mmcv's RoIAlign, same loss
    ragged = _teacher_out([[1.0] * 6, [1.0] * 5])
    losses = []
    for roi_op in ('mmcv', 'separable'):
        torch.manual_seed(0)
        losses.append(_distiller(roi_op=roi_op)(
            feat_map[:2], student[:2], ragged, [(0.5, 0.5)] * 2, [None] * 2))
    torch.testing.assert_close(losses[0], losses[1])


def test_roi_op_is_checked():
    with pytest.raises(ValueError, match="roi_op must be 'mmcv' or "
                       "'separable', got 'dense'"):
        _distiller(roi_op='dense')
    with pytest.raises(ValueError, match='fixed sampling_ratio > 0, got 0'):
        _distiller(roi_op='separable', sampling_ratio=0)
