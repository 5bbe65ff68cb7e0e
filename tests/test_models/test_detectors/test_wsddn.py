# Copyright (c) mmkdwsd authors. All rights reserved.
import copy
import unittest
from unittest import TestCase

import torch
from mmdet.structures import DetDataSample
from mmdet.testing import demo_mm_proposals
from mmengine.structures import InstanceData

from mmkdwsd.registry import MODELS
from mmkdwsd.utils import register_all_modules

register_all_modules()


class _NoBoxSample(DetDataSample):
    """A data sample whose ground-truth boxes must never be read."""

    @property
    def gt_instances(self):
        raise AssertionError('gt_instances was read')


def demo_batch(
        num_proposals=(16, 9),
        size=64,
        labels=([1], [0, 3]),
        sample_cls=DetDataSample,
        seed=0):
    """Packed inputs (uint8 images) and data samples with proposals."""
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i, num in enumerate(num_proposals):
        inputs.append(
            torch.randint(0, 255, (3, size, size), generator=gen).byte())
        sample = sample_cls(
            metainfo=dict(
                img_path=f'demo/img_{i}.png',
                img_shape=(size, size),
                ori_shape=(size, size),
                scale_factor=(1.0, 1.0)))
        proposals = demo_mm_proposals([(3, size, size)], max(num, 1))[0]
        sample.proposals = InstanceData(
            bboxes=proposals.bboxes[:num], scores=proposals.scores[:num])
        sample.gt_label = torch.tensor(labels[i], dtype=torch.long)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


class TestWSDDN(TestCase):
    DEFAULT_ARGS = dict(
        type='WSDDN',
        data_preprocessor=dict(
            type='mmdet.DetDataPreprocessor', pad_size_divisor=16),
        backbone=dict(
            type='mmpretrain.ResNet',
            depth=18,
            stem_channels=8,
            base_channels=8,
            num_stages=3,
            strides=(1, 2, 2),
            dilations=(1, 1, 1),
            out_indices=(2, )),
        roi_head=dict(
            type='WSDDNRoIHead',
            bbox_roi_extractor=dict(
                type='mmdet.SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign',
                    output_size=7,
                    sampling_ratio=0,
                    aligned=True),
                out_channels=32,
                featmap_strides=[16]),
            bbox_head=dict(
                type='WSDDNBBoxHead',
                num_classes=4,
                in_channels=32,
                fc_out_channels=16,
                dropout=0.0)),
        test_cfg=dict(
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.4),
            max_per_img=20))

    def _build(self, num_refine=0):
        cfg = copy.deepcopy(self.DEFAULT_ARGS)
        cfg['roi_head']['bbox_head']['num_refine'] = num_refine
        torch.manual_seed(0)
        model = MODELS.build(cfg)
        model.init_weights()
        return model

    def _data(self, model, training=True, **kwargs):
        return model.data_preprocessor(demo_batch(**kwargs), training)

    def test_loss_and_gradients(self):
        model = self._build(num_refine=2)
        model.train()
        losses = model(**self._data(model), mode='loss')
        self.assertEqual(
            set(losses), {'loss_wsddn', 'loss_refine1', 'loss_refine2'})
        sum(losses.values()).backward()
        head = model.roi_head.bbox_head
        for name, module in [('backbone', model.backbone.conv1),
                             ('fc6', head.shared_fcs[0]),
                             ('fc_cls', head.fc_cls), ('fc_det', head.fc_det),
                             ('fc_refine', head.fc_refine[1])]:
            grad = module.weight.grad
            self.assertIsNotNone(grad, name)
            self.assertGreater(grad.abs().sum().item(), 0, name)

    def test_loss_goes_down(self):
        model = self._build(num_refine=1)
        model.train()
        data = self._data(model)
        optim = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        values = []
        for _ in range(8):
            losses = model(**data, mode='loss')
            loss = sum(losses.values())
            optim.zero_grad()
            loss.backward()
            optim.step()
            values.append(loss.item())
        self.assertLess(values[-1], values[0] * 0.8, values)

    def test_training_reads_no_gt_box(self):
        model = self._build(num_refine=3)
        model.train()
        data = self._data(model, sample_cls=_NoBoxSample)
        with self.assertRaisesRegex(AssertionError, 'gt_instances was read'):
            data['data_samples'][0].gt_instances
        losses = model(**data, mode='loss')
        sum(losses.values()).backward()
        # With gt boxes attached, changing them changes nothing.
        model.eval()  # no dropout randomness
        data = self._data(model)
        values = []
        for offset in (0.0, 17.0):
            for sample in data['data_samples']:
                sample.gt_instances = InstanceData(
                    bboxes=torch.tensor([[1., 2., 30., 40.]]) + offset,
                    labels=torch.tensor([1]))
            values.append(model.loss(data['inputs'], data['data_samples']))
        for key in values[0]:
            torch.testing.assert_close(values[0][key], values[1][key])

    def test_predict_regions(self):
        model = self._build()
        model.eval()
        data = self._data(model, False, num_proposals=(16, 9))
        with torch.no_grad():
            regions = model.predict_regions(**data)
        self.assertEqual(
            set(regions), {
                'img_scores', 'cls_logits', 'det_logits', 'region_feats',
                'proposals', 'proposal_scores', 'region_scores'
            })
        self.assertEqual(regions['img_scores'].shape, (2, 4))
        img_scores = regions['img_scores']
        self.assertTrue(((img_scores > 0) & (img_scores < 1)).all())
        for key, width in [('cls_logits', 4), ('det_logits', 4),
                           ('region_feats', 16), ('proposals', 4),
                           ('region_scores', 4)]:
            self.assertEqual([tuple(t.shape) for t in regions[key]],
                             [(16, width), (9, width)], key)
        self.assertEqual([tuple(t.shape) for t in regions['proposal_scores']],
                         [(16, ), (9, )])
        for region_scores in regions['region_scores']:
            self.assertTrue((region_scores.sum(0) <= 1 + 1e-6).all())
        # The image scores are the sums of the region scores.
        torch.testing.assert_close(
            img_scores,
            torch.stack([s.sum(0) for s in regions['region_scores']]))

    def test_predict_region_feats_of_a_subset(self):
        for num_refine in (0, 2):  # WSDDN and OICR share fc6 / fc7
            model = self._build(num_refine=num_refine)
            model.eval()
            data = self._data(model, False, num_proposals=(16, 9))
            with torch.no_grad():
                full = model.predict_regions(**data)
                proposals = model.get_proposals(data['data_samples'])
                keep = [torch.tensor([15, 0, 7]), torch.tensor([4, 8])]
                subset = [p[k] for p, k in zip(proposals, keep)]

                def no_stream(*args):
                    raise AssertionError('a stream ran')

                # the streams are not run: only fc6 / fc7
                head = model.roi_head.bbox_head
                for fc in [head.fc_cls, head.fc_det, *head.fc_refine]:
                    fc.register_forward_pre_hook(no_stream)
                part = model.predict_region_feats(data['inputs'], subset)
            self.assertEqual(set(part),
                             {'region_feats', 'proposals', 'proposal_scores'})
            for i, k in enumerate(keep):
                # the same rows up to float rounding: BLAS sums a matrix
                # product of 3 rows in another order than one of 16 (1e-5
                # apart on the 16-core GPU machine's CPU); a wrong row is
                # off by far more
                torch.testing.assert_close(part['region_feats'][i],
                                           full['region_feats'][i][k],
                                           rtol=1e-4, atol=1e-4)
                torch.testing.assert_close(part['proposals'][i],
                                           full['proposals'][i][k])
                torch.testing.assert_close(part['proposal_scores'][i],
                                           full['proposal_scores'][i][k])

    def test_predict(self):
        for num_refine in (0, 3):
            model = self._build(num_refine)
            model.eval()
            data = self._data(model, False)
            with torch.no_grad():
                results = model(**data, mode='predict')
            self.assertEqual(len(results), 2)
            for res in results:
                self.assertEqual(res.pred_score.shape, (4, ))
                pred = res.pred_instances
                self.assertLessEqual(len(pred), 20)
                self.assertEqual(pred.bboxes.shape, (len(pred), 4))
                self.assertTrue((pred.labels < 4).all())
                self.assertTrue((pred.scores[:-1] >= pred.scores[1:]).all())

    def test_tensor_mode(self):
        model = self._build(num_refine=2)
        model.eval()
        outs = model(**self._data(model, False), mode='tensor')
        self.assertEqual([tuple(t.shape) for t in outs], [(25, 4), (25, 4),
                                                          (25, 16), (25, 5),
                                                          (25, 5)])

    def test_few_proposals(self):
        for num_refine in (0, 3):
            model = self._build(num_refine)
            model.train()
            data = self._data(model, num_proposals=(1, 2))
            losses = model(**data, mode='loss')
            for value in losses.values():
                self.assertTrue(torch.isfinite(value))
            model.eval()
            with torch.no_grad():
                regions = model.predict_regions(**data)
                results = model(**data, mode='predict')
            self.assertEqual([len(r) for r in regions['region_scores']],
                             [1, 2])
            self.assertGreater(len(results[0].pred_instances), 0)
        # WSDDN: a single region takes all of the detection softmax, so its
        # region scores are the class softmax.
        torch.testing.assert_close(regions['img_scores'][0].sum(),
                                   torch.tensor(1.0))

    def test_no_proposals_error(self):
        model = self._build()
        data = self._data(model, num_proposals=(4, 0))
        with self.assertRaisesRegex(
                ValueError, r'image 1 \(demo/img_1.png\) has no proposals'):
            model(**data, mode='loss')
        del data['data_samples'][1].proposals
        with self.assertRaisesRegex(KeyError,
                                    r'image 1 \(demo/img_1.png\) has no'):
            model(**data, mode='predict')

    def test_label_out_of_range_error(self):
        model = self._build()
        data = self._data(model, labels=([1], [4]))
        with self.assertRaisesRegex(ValueError,
                                    r'image 1 .* labels \[4\] outside'):
            model(**data, mode='loss')

    def test_vgg_backbone_builds(self):
        cfg = copy.deepcopy(self.DEFAULT_ARGS)
        cfg['backbone'] = dict(
            type='mmpretrain.VGG',
            depth=11,
            num_stages=5,
            with_last_pool=False,
            out_indices=(4, ))
        cfg['roi_head']['bbox_roi_extractor']['out_channels'] = 512
        cfg['roi_head']['bbox_head']['in_channels'] = 512
        model = MODELS.build(cfg)
        model.eval()
        with torch.no_grad():
            regions = model.predict_regions(**self._data(model, False))
        self.assertEqual(regions['img_scores'].shape, (2, 4))

    def test_same_region_count_batched_scores(self):
        # the batched path (same count per image) computes WSDDN's scores
        model = self._build()
        model.eval()
        with torch.no_grad():
            regions = model.predict_regions(
                **self._data(model, False, num_proposals=(12, 12)))
        expected = [
            c.float().softmax(1) * d.float().softmax(0)
            for c, d in zip(regions['cls_logits'], regions['det_logits'])
        ]
        for ours, theirs in zip(regions['region_scores'], expected):
            torch.testing.assert_close(ours, theirs)
        torch.testing.assert_close(
            regions['img_scores'],
            torch.stack([e.sum(0) for e in expected]).clamp(1e-6, 1 - 1e-6),
            atol=1e-6, rtol=1e-5)

    @unittest.skipIf(not torch.cuda.is_available(), 'requires CUDA')
    def test_cuda_bf16_autocast(self):
        # ragged and same region counts (the per-image and batched paths)
        for num_proposals in [(16, 9), (12, 12)]:
            model = self._build(num_refine=3).cuda()
            model.train()
            data = self._data(model, num_proposals=num_proposals)
            with torch.autocast('cuda', dtype=torch.bfloat16):
                losses = model(**data, mode='loss')
            for value in losses.values():
                self.assertEqual(value.dtype, torch.float32)
                self.assertTrue(torch.isfinite(value))
            sum(losses.values()).backward()
            model.eval()
            with torch.no_grad(), torch.autocast('cuda',
                                                 dtype=torch.float16):
                results = model(
                    **self._data(model, False, num_proposals=num_proposals),
                    mode='predict')
            self.assertTrue(((results[0].pred_score > 0)
                             & (results[0].pred_score < 1)).all())
