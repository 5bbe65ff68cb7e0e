# Copyright (c) mmkdwsd authors. All rights reserved.
from unittest import TestCase

import torch
import torch.nn.functional as F

from mmkdwsd.models.losses import refined_soft_targets, wsddn_soft_targets
from mmkdwsd.registry import MODELS


class TestMultiLabelKDLoss(TestCase):

    def test_bce_sum_over_classes_mean_over_batch(self):
        loss_fn = MODELS.build(dict(type='MultiLabelKDLoss', loss_weight=.5))
        logits = torch.randn(3, 4)
        target = torch.rand(3, 4)
        expected = .5 * F.binary_cross_entropy(
            logits.sigmoid(), target, reduction='sum') / 3
        torch.testing.assert_close(loss_fn(logits, target), expected)
        with self.assertRaisesRegex(ValueError, 'differ in shape'):
            loss_fn(logits, target[:2])


class TestWSDDNSoftTargets(TestCase):

    def test_range_and_temperature_one(self):
        torch.manual_seed(0)
        cls = [torch.randn(7, 3) * 5, torch.randn(2, 3) * 5]
        det = [torch.randn(7, 3) * 5, torch.randn(2, 3) * 5]
        targets = wsddn_soft_targets(cls, det, .5, .5)
        self.assertEqual(targets.shape, (2, 3))
        self.assertTrue(((targets >= 0) & (targets <= 1)).all())
        img_scores = torch.stack([(c.softmax(1) * d.softmax(0)).sum(0)
                                  for c, d in zip(cls, det)])
        torch.testing.assert_close(
            wsddn_soft_targets(cls, det, 1., 1.), img_scores)

    def test_same_region_count_takes_the_batched_path_same_values(self):
        torch.manual_seed(0)
        cls = [torch.randn(5, 3) * 5 for _ in range(4)]
        det = [torch.randn(5, 3) * 5 for _ in range(4)]
        expected = torch.stack([
            ((c / .5).softmax(1) * (d / .5).softmax(0)).sum(0)
            for c, d in zip(cls, det)
        ]).clamp(0., 1.)
        torch.testing.assert_close(wsddn_soft_targets(cls, det), expected)


def test_refined_soft_targets_take_each_class_top_region():
    scores = [
        torch.tensor([[.1, .7, .0], [.6, .2, .0]]),
        torch.tensor([[.3, .3, .9]]),
    ]
    torch.testing.assert_close(
        refined_soft_targets(scores),
        torch.tensor([[.6, .7, .0], [.3, .3, .9]]))
    # half-precision scores give fp32 targets
    assert refined_soft_targets([s.half() for s in scores]).dtype == \
        torch.float32
