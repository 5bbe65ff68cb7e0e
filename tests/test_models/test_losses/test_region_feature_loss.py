# Copyright (c) mmkdwsd authors. All rights reserved.
from unittest import TestCase

import torch

from mmkdwsd.registry import MODELS


class TestRegionFeatureLoss(TestCase):

    def test_official_normalisation(self):
        loss_fn = MODELS.build(dict(type='RegionFeatureLoss', loss_weight=2.))
        pred = torch.randn(6, 5, requires_grad=True)
        target = torch.randn(6, 5, requires_grad=True)
        loss = loss_fn(pred, target)
        expected = 2. * (pred - target).pow(2).sum() / (2 * 6)
        torch.testing.assert_close(loss, expected)
        loss.backward()
        self.assertIsNone(target.grad)  # no gradient into the teacher
        self.assertEqual(loss_fn(target, target).item(), 0.)

    def test_weights_and_shape_check(self):
        loss_fn = MODELS.build(dict(type='RegionFeatureLoss'))
        pred, target = torch.randn(4, 3), torch.randn(4, 3)
        weight = torch.tensor([2., 0., 1., 1.])
        expected = ((pred - target).pow(2).sum(1) * weight).sum() / (2 * 4)
        torch.testing.assert_close(loss_fn(pred, target, weight), expected)
        with self.assertRaisesRegex(ValueError, r'\(4, 3\).*\(4, 2\)'):
            loss_fn(pred, target[:, :2])

    def test_normalised_by_teacher_energy(self):
        loss_fn = MODELS.build(
            dict(type='RegionFeatureLoss', loss_weight=3., normalize=True))
        pred, target = torch.randn(4, 3), torch.randn(4, 3)
        weight = torch.tensor([2., 0., 1., 1.])
        expected = 3. * ((pred - target).pow(2).sum(1) * weight).sum() / (
            target.pow(2).sum(1) * weight).sum()
        torch.testing.assert_close(
            loss_fn(pred, target, weight, avg_factor=99.), expected)
        # an all-zero student scores 1 (x loss_weight) at any feature scale
        for scale in (1e-3, 1., 1e3):
            torch.testing.assert_close(
                loss_fn(torch.zeros(4, 3), scale * target), torch.tensor(3.))
        # a zero teacher gives a finite loss
        self.assertTrue(
            torch.isfinite(loss_fn(pred, torch.zeros(4, 3))).item())

    def test_half_precision_inputs_do_not_overflow(self):
        # 512 regions x 256 dims of fc7-like values: the summed squared
        # distance (about 1e6) is far above float16's 65504
        pred = torch.zeros(512, 256, dtype=torch.float16)
        target = torch.full((512, 256), 3., dtype=torch.float16)
        for normalize, expected in ((False, 9. * 256 / 2), (True, 1.)):
            loss_fn = MODELS.build(
                dict(type='RegionFeatureLoss', normalize=normalize))
            loss = loss_fn(pred, target)
            self.assertTrue(torch.isfinite(loss).item())
            torch.testing.assert_close(loss, torch.tensor(expected))
