# Copyright (c) mmkdwsd authors. All rights reserved.
"""Per-image region operations: the batched path (same region count) and
the per-image loop agree with each other and with mmdet's bbox2roi."""
import pytest
import torch
from mmdet.structures.bbox import bbox2roi

from mmkdwsd.models.utils import (multi_hot, region_softmax, region_sum,
                                  rois_from_boxes, same_region_count,
                                  stacked_view, wsddn_region_scores)


def _per_image_softmax(logits, num_rois):
    return torch.cat([p.softmax(0) for p in logits.split(num_rois)])


def _per_image_sum(values, num_rois):
    return torch.stack([p.sum(0) for p in values.split(num_rois)])


@pytest.mark.parametrize('num_rois', [[4, 4, 4], [5, 2, 3], [6]],
                         ids=['same', 'ragged', 'one-image'])
def test_region_softmax_and_sum_equal_the_per_image_loop(num_rois):
    torch.manual_seed(0)
    logits = torch.randn(sum(num_rois), 5)
    probs = region_softmax(logits, num_rois)
    torch.testing.assert_close(probs, _per_image_softmax(logits, num_rois))
    torch.testing.assert_close(region_sum(probs, num_rois),
                               torch.ones(len(num_rois), 5))
    torch.testing.assert_close(region_sum(logits, num_rois),
                               _per_image_sum(logits, num_rois))


def test_the_batched_path_is_taken_only_for_the_same_count():
    assert same_region_count([3, 3, 3])
    assert not same_region_count([3, 2])
    assert not same_region_count([0, 0])
    assert not same_region_count([])


@pytest.mark.parametrize('num_rois', [[4, 4], [3, 1, 2]],
                         ids=['same', 'ragged'])
def test_rois_from_boxes_equals_bbox2roi(num_rois):
    boxes = [torch.rand(n, 4) * 50 for n in num_rois]
    torch.testing.assert_close(rois_from_boxes(boxes), bbox2roi(boxes))
    if same_region_count(num_rois):  # an (N, R, 4) tensor too
        torch.testing.assert_close(rois_from_boxes(torch.stack(boxes)),
                                   bbox2roi(boxes))


def test_stacked_view_finds_split_rows_without_a_copy():
    whole = torch.arange(24.).view(6, 4)
    parts = list(whole.split([2, 2, 2]))
    view = stacked_view(parts)
    assert view.shape == (3, 2, 4)
    assert view.data_ptr() == whole.data_ptr()  # no copy
    torch.testing.assert_close(view, whole.view(3, 2, 4))
    assert stacked_view(list(whole[2:].split(2))).data_ptr() == \
        whole[2].data_ptr()  # from an offset
    # anything else: None (the caller copies)
    assert stacked_view([torch.zeros(2, 4), torch.zeros(2, 4)]) is None
    assert stacked_view(list(whole.split([2, 4]))) is None
    assert stacked_view([parts[1], parts[0]]) is None  # out of order
    assert stacked_view(list(whole.t().split(2))) is None  # not contiguous
    assert stacked_view([]) is None


def test_multi_hot_sets_each_present_class_once():
    like = torch.zeros(3, 5)
    targets = multi_hot(
        [torch.tensor([0, 3]), torch.tensor([], dtype=torch.long),
         torch.tensor([4, 4])], like)
    expected = torch.zeros(3, 5)
    expected[0, [0, 3]] = 1
    expected[2, 4] = 1
    torch.testing.assert_close(targets, expected)
    torch.testing.assert_close(multi_hot([torch.zeros(0)] * 2,
                                         torch.zeros(2, 5)), torch.zeros(2, 5))


@pytest.mark.parametrize('num_rois', [[5, 5, 5], [4, 7, 1]])
def test_wsddn_region_scores_follow_the_two_stream_formula(num_rois):
    torch.manual_seed(0)
    cls, det = torch.randn(2, sum(num_rois), 6).half()
    scores = wsddn_region_scores(cls, det, num_rois, 0.5, 2.0)
    assert scores.dtype == torch.float32
    expected = torch.cat([
        (c.float() / 0.5).softmax(1) * (d.float() / 2.0).softmax(0)
        for c, d in zip(cls.split(num_rois), det.split(num_rois))
    ])
    torch.testing.assert_close(scores, expected)
    # each image-level score lies in [0, 1]
    img = region_sum(scores, num_rois)
    assert img.shape == (len(num_rois), 6)
    assert bool((img >= 0).all()) and bool((img <= 1 + 1e-6).all())
