# Copyright (c) mmkdwsd authors. All rights reserved.
import copy
import unittest
from unittest import TestCase

import torch
from mmdet.structures import DetDataSample
from mmdet.testing import demo_mm_proposals
from mmengine.config import ConfigDict
from torchvision.ops import roi_align

from mmkdwsd.registry import MODELS
from mmkdwsd.utils import register_all_modules

register_all_modules()


class TestWSDDNRoIHead(TestCase):
    DEFAULT_ARGS = dict(
        type='WSDDNRoIHead',
        bbox_roi_extractor=dict(
            type='mmdet.SingleRoIExtractor',
            roi_layer=dict(
                type='RoIAlign', output_size=7, sampling_ratio=2,
                aligned=True),
            out_channels=8,
            featmap_strides=[16]),
        bbox_head=dict(
            type='WSDDNBBoxHead',
            num_classes=4,
            in_channels=8,
            fc_out_channels=16,
            dropout=0.0),
        test_cfg=dict(
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.4),
            max_per_img=10))

    def setUp(self):
        torch.manual_seed(0)
        self.feats = (torch.randn(2, 8, 8, 8), )
        self.proposals = demo_mm_proposals([(3, 128, 128)] * 2, 12)

    def _build(self, **kwargs):
        torch.manual_seed(0)
        cfg = copy.deepcopy(self.DEFAULT_ARGS)
        cfg.update(kwargs)
        head = MODELS.build(cfg)
        head.init_weights()
        return head.eval()

    def test_roi_align_matches_torchvision(self):
        extractor = self._build().bbox_roi_extractor
        rois = torch.cat([
            torch.cat([torch.full((12, 1), float(i)), p.bboxes], dim=1)
            for i, p in enumerate(self.proposals)
        ])
        ours = extractor(self.feats, rois)
        ref = roi_align(
            self.feats[0],
            rois,
            output_size=7,
            spatial_scale=1 / 16,
            sampling_ratio=2,
            aligned=True)
        self.assertEqual(ours.shape, (24, 8, 7, 7))
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)

    def test_roi_pool_selectable(self):
        extractor = ConfigDict(
            copy.deepcopy(self.DEFAULT_ARGS['bbox_roi_extractor']))
        extractor.roi_layer = dict(type='RoIPool', output_size=7)
        head = self._build(bbox_roi_extractor=extractor)
        self.assertEqual(
            type(head.bbox_roi_extractor.roi_layers[0]).__name__, 'RoIPool')
        if not torch.cuda.is_available():
            return  # mmcv 2.1 RoIPool has no CPU kernel
        regions = head.cuda().forward_regions(
            tuple(f.cuda() for f in self.feats),
            [p.cuda() for p in self.proposals])
        self.assertEqual(regions['img_scores'].shape, (2, 4))

    def test_objectness_weight(self):
        scaled = self._build()
        out = scaled.forward_regions(self.feats, self.proposals)
        plain = self._build(score_scale=0.0, score_bias=1.0)
        out_plain = plain.forward_regions(self.feats, self.proposals)
        self.assertFalse(
            torch.allclose(out['region_feats'][0],
                           out_plain['region_feats'][0]))
        # Scale 0, bias 1 is the same as objectness 1 with scale 1, bias 0.
        ones = [p.clone() for p in self.proposals]
        for p in ones:
            p.scores = torch.ones_like(p.scores)
        out_ones = scaled.forward_regions(self.feats, ones)
        torch.testing.assert_close(out_plain['region_feats'][0],
                                   out_ones['region_feats'][0])
        torch.testing.assert_close(out['proposal_scores'][1],
                                   self.proposals[1].scores)

    def test_refined_region_scores(self):
        head = self._build()
        head.bbox_head = MODELS.build({
            **self.DEFAULT_ARGS['bbox_head'], 'num_refine':
            3
        })
        regions = head.forward_regions(self.feats, self.proposals)
        expected = head.bbox_head.get_refined_scores(regions['refine_logits'],
                                                     [12, 12])
        torch.testing.assert_close(regions['region_scores'][1], expected[1])
        samples = [
            DetDataSample(
                metainfo=dict(
                    img_shape=(128, 128),
                    ori_shape=(64, 64),
                    scale_factor=(2.0, 2.0))) for _ in range(2)
        ]
        results = head.predict(
            self.feats, self.proposals, samples, rescale=True)
        self.assertTrue((results[0].bboxes <= 64).all())
        self.assertLessEqual(len(results[0]), 10)

    def test_detection_scores_of_the_wsddn_streams(self):
        """test_cfg.region_scores='wsddn' ranks an OICR head's detections
        by WSDDN's region scores instead of the refined average, and an
        unknown value is refused, naming the field."""
        bbox_head = {**self.DEFAULT_ARGS['bbox_head'], 'num_refine': 3}
        test_cfg = self.DEFAULT_ARGS['test_cfg']
        refined = self._build(bbox_head=bbox_head, test_cfg=test_cfg)
        wsddn = self._build(bbox_head=bbox_head,
                            test_cfg={**test_cfg, 'region_scores': 'wsddn'})
        regions = wsddn.forward_regions(self.feats, self.proposals)
        expected = wsddn.bbox_head.get_region_scores(
            torch.cat(regions['cls_logits']),
            torch.cat(regions['det_logits']), [12, 12])[0]
        ours = wsddn.detection_scores(regions)
        for i in range(2):
            torch.testing.assert_close(ours[i], expected[i])
        # forward_regions (the distiller's input) keeps the refined scores
        torch.testing.assert_close(
            regions['region_scores'][0],
            refined.forward_regions(self.feats,
                                    self.proposals)['region_scores'][0])
        self.assertFalse(torch.allclose(ours[0], regions['region_scores'][0]))
        samples = [
            DetDataSample(metainfo=dict(img_shape=(128, 128),
                                        ori_shape=(128, 128),
                                        scale_factor=(1.0, 1.0)))
            for _ in range(2)
        ]
        for head, scores in ((wsddn, expected), (refined,
                                                 regions['region_scores'])):
            result = head.predict(self.feats, self.proposals, samples)[0]
            top = result.scores.argmax()
            self.assertAlmostEqual(
                result.scores[top].item(),
                scores[0][:, result.labels[top]].max().item(), places=5)
        with self.assertRaisesRegex(ValueError, 'region_scores'):
            self._build(test_cfg={**test_cfg, 'region_scores': 'both'})

    @unittest.skipIf(not torch.cuda.is_available(), 'requires CUDA')
    def test_cuda_matches_cpu(self):
        head = self._build()
        out_cpu = head.forward_regions(self.feats, self.proposals)
        head = head.cuda()
        feats = tuple(f.cuda() for f in self.feats)
        proposals = [p.cuda() for p in self.proposals]
        out = head.forward_regions(feats, proposals)
        torch.testing.assert_close(
            out['region_feats'][0].cpu(),
            out_cpu['region_feats'][0],
            atol=1e-4,
            rtol=1e-4)
        # mmcv 2.1 has no bf16 RoIAlign kernel: the head casts to fp32.
        with torch.autocast('cuda', dtype=torch.bfloat16):
            out = head.forward_regions(
                tuple(f.bfloat16() for f in feats), proposals)
        self.assertEqual(out['img_scores'].dtype, torch.float32)
        self.assertTrue(torch.isfinite(out['img_scores']).all())
