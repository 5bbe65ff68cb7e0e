# Copyright (c) mmkdwsd authors. All rights reserved.
import math
from unittest import TestCase

import torch
from mmengine.config import ConfigDict

from mmkdwsd.models.roi_heads.bbox_heads import (graph_seeds,
                                                 mine_pseudo_labels,
                                                 mine_pseudo_labels_batch)
from mmkdwsd.registry import MODELS
from mmkdwsd.utils import register_all_modules

register_all_modules()


def _boxes(num, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(num, 2, generator=gen) * size * 0.6
    wh = torch.rand(num, 2, generator=gen) * size * 0.4 + 4
    return torch.cat([xy, xy + wh], dim=1)


def _iou(a, b):
    """IoU of two boxes (x1, y1, x2, y2) as Python floats."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) *
             (b[3] - b[1]) - w * h)
    return w * h / max(union, 1e-6)


def _mine_oracle(bboxes, scores, present, iou_thr=0.5):
    """OICR's mining of one image written out region by region: the seed of
    each present class (ascending) is its best region; a region takes the
    class of the seed it overlaps most (first class on ties) when the IoU
    reaches iou_thr, background (K) otherwise, weighted by that seed's
    score."""
    num_classes = scores.shape[1]
    seeds = [(c, int(scores[:, c].argmax())) for c in sorted(present)]
    labels, weights = [], []
    for box in bboxes.tolist():
        best, best_iou = None, -1.0
        for c, r in seeds:
            iou = _iou(box, bboxes[r].tolist())
            if iou > best_iou:
                best, best_iou = (c, r), iou
        if best is None:
            labels.append(num_classes)
            weights.append(0.0)
            continue
        labels.append(best[0] if best_iou >= iou_thr else num_classes)
        weights.append(float(scores[best[1], best[0]]))
    return torch.tensor(labels), torch.tensor(weights)


def _graph_seeds_oracle(bboxes, scores, cls, top_ratio=0.15, iou_thr=0.4,
                        max_centers=5):
    """PCL's graph centres of one class in one image, written out: the
    ceil(top_ratio * R) best regions are nodes, joined when their IoU
    exceeds iou_thr; repeatedly the node with the most neighbours left
    (ties to the higher score) is a centre, scored by the best score of its
    cluster (it and its neighbours), which leaves the graph. Returns
    [(region index, score)]."""
    col = scores[:, cls].tolist()
    order = sorted(range(len(col)), key=lambda r: -col[r])
    nodes = order[:math.ceil(top_ratio * len(col))]
    boxes = bboxes.tolist()

    def near(a, b):
        return a == b or _iou(boxes[a], boxes[b]) > iou_thr

    alive, seeds = list(nodes), []
    while alive and len(seeds) < max_centers:
        centre = max(alive, key=lambda a: (sum(near(a, b) for b in alive),
                                           col[a]))
        cluster = [b for b in alive if near(centre, b)]
        seeds.append((centre, max(col[b] for b in cluster)))
        alive = [b for b in alive if b not in cluster]
    return seeds


def _mine_graph_oracle(bboxes, scores, present, graph, iou_thr=0.5):
    """Mining with graph-centre seeds (``graph``: the keyword arguments of
    :func:`_graph_seeds_oracle`), region by region: each region is matched
    to the seed it overlaps most over all present classes (ascending, then
    in the order the centres were taken)."""
    num_classes = scores.shape[1]
    seeds = [(c, r, score) for c in sorted(present)
             for r, score in _graph_seeds_oracle(bboxes, scores, c, **graph)]
    labels, weights = [], []
    for box in bboxes.tolist():
        best, best_iou = None, -1.0
        for seed in seeds:
            iou = _iou(box, bboxes[seed[1]].tolist())
            if iou > best_iou:
                best, best_iou = seed, iou
        if best is None:
            labels.append(num_classes)
            weights.append(0.0)
            continue
        labels.append(best[0] if best_iou >= iou_thr else num_classes)
        weights.append(best[2])
    return torch.tensor(labels), torch.tensor(weights)


class TestWSDDNBBoxHead(TestCase):
    DEFAULT_ARGS = dict(
        type='WSDDNBBoxHead',
        num_classes=4,
        in_channels=8,
        roi_feat_size=7,
        fc_out_channels=16,
        dropout=0.0)

    def _forward(self, head, num_rois=(16, 5, 1)):
        torch.manual_seed(0)
        x = torch.randn(sum(num_rois), 8, 7, 7)
        return head(x), list(num_rois)

    def test_forward_and_scores(self):
        head = MODELS.build({**self.DEFAULT_ARGS, 'num_refine': 2})
        head.init_weights()
        (cls_logits, det_logits, refine, feats), num_rois = self._forward(head)
        self.assertEqual(cls_logits.shape, (22, 4))
        self.assertEqual(det_logits.shape, (22, 4))
        self.assertEqual([r.shape for r in refine], [(22, 5)] * 2)
        self.assertEqual(feats.shape, (22, 16))
        # Large logits: the sums must still stay at most 1.
        region_scores, img_scores = head.get_region_scores(
            cls_logits * 50, det_logits * 50, num_rois)
        self.assertEqual([s.shape for s in region_scores], [(16, 4), (5, 4),
                                                            (1, 4)])
        self.assertEqual(img_scores.shape, (3, 4))
        for scores in region_scores:
            self.assertTrue((scores >= 0).all())
            self.assertTrue((scores.sum(0) <= 1 + 1e-6).all())
        self.assertTrue(((img_scores > 0) & (img_scores < 1)).all())
        refined = head.get_refined_scores(refine, num_rois)
        self.assertEqual([s.shape for s in refined], [(16, 4), (5, 4), (1, 4)])
        self.assertTrue(((refined[0] > 0) & (refined[0] < 1)).all())

    def test_scores_fp32_under_autocast(self):
        head = MODELS.build(self.DEFAULT_ARGS)
        (cls_logits, det_logits, _, _), num_rois = self._forward(head)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            region_scores, img_scores = head.get_region_scores(
                cls_logits.bfloat16() * 1e3,
                det_logits.bfloat16() * 1e3, num_rois)
            losses = head.loss_by_feat(cls_logits.bfloat16(),
                                       det_logits.bfloat16(), [],
                                       [_boxes(n) for n in num_rois],
                                       [torch.tensor([0, 2])] * 3)
        self.assertEqual(img_scores.dtype, torch.float32)
        self.assertEqual(region_scores[0].dtype, torch.float32)
        self.assertTrue(torch.isfinite(img_scores).all())
        self.assertTrue(((img_scores > 0) & (img_scores < 1)).all())
        self.assertTrue(torch.isfinite(losses['loss_wsddn']))

    def test_loss(self):
        head = MODELS.build({**self.DEFAULT_ARGS, 'num_refine': 3})
        (cls_logits, det_logits, refine, _), num_rois = self._forward(head)
        bboxes = [_boxes(n, seed=n) for n in num_rois]
        gt_labels = [torch.tensor([1]), torch.tensor([0, 3]), torch.tensor([])]
        losses = head.loss_by_feat(cls_logits, det_logits, refine, bboxes,
                                   gt_labels)
        self.assertEqual(
            set(losses),
            {'loss_wsddn', 'loss_refine1', 'loss_refine2', 'loss_refine3'})
        for value in losses.values():
            self.assertTrue(torch.isfinite(value) and value >= 0)
        # The WSDDN loss is the BCE of the image scores, summed over classes
        # and averaged over images.
        _, img_scores = head.get_region_scores(cls_logits, det_logits,
                                               num_rois)
        targets = torch.zeros(3, 4)
        targets[0, 1] = targets[1, 0] = targets[1, 3] = 1
        expected = torch.nn.functional.binary_cross_entropy(
            img_scores, targets, reduction='sum') / 3
        self.assertAlmostEqual(
            losses['loss_wsddn'].item(), expected.item(), places=5)

    def test_refine_loss_matches_per_image_oracle(self):
        """The batched refinement losses equal OICR's per-image definition
        (mining written out region by region, weighted CE averaged over each
        image's regions, then over images), with equal and unequal region
        counts, with OICR's seeds and with graph centres."""
        graph = dict(top_ratio=0.5, iou_thr=0.3, max_centers=3)
        gt_labels = [torch.tensor([1]), torch.tensor([0, 3]),
                     torch.tensor([], dtype=torch.long)]
        for counts, seeds in (((16, 5, 1), None), ((9, 9, 9), None),
                              ((16, 5, 1), graph)):
            head = MODELS.build({
                **self.DEFAULT_ARGS, 'num_refine': 2,
                'refine_seeds': seeds and dict(type='graph', **seeds)
            })
            (cls_logits, det_logits, refine, _), num_rois = self._forward(
                head, counts)
            bboxes = [_boxes(n, seed=i) for i, n in enumerate(num_rois)]
            # duplicate boxes make seeds share regions (the tie rule)
            bboxes[0][1] = bboxes[0][0]
            losses = head.loss_by_feat(cls_logits, det_logits, refine,
                                       bboxes, gt_labels)
            prev = [s.detach() for s in head.get_region_scores(
                cls_logits, det_logits, num_rois)[0]]
            for k, logits in enumerate(refine):
                per_image = []
                for logit, score, box, gt in zip(
                        logits.split(num_rois), prev, bboxes, gt_labels):
                    labels, weights = (
                        _mine_graph_oracle(box, score, gt.tolist(), seeds)
                        if seeds else _mine_oracle(box, score, gt.tolist()))
                    ce = torch.nn.functional.cross_entropy(
                        logit, labels, reduction='none')
                    per_image.append((weights * ce).mean())
                torch.testing.assert_close(
                    losses[f'loss_refine{k + 1}'],
                    torch.stack(per_image).mean())
                prev = [torch.softmax(p.detach(), dim=1)[:, :4]
                        for p in logits.split(num_rois)]

    def test_refine_grad_scale(self):
        """The refinement losses' gradient into fc7 and below is scaled by
        ``refine_grad_scale`` (0: none), while the values, the streams' own
        gradients and WSDDN's gradients stay as in OICR."""
        grads = {}
        for scale in (1.0, 0.25, 0.0):
            torch.manual_seed(1)
            head = MODELS.build({**self.DEFAULT_ARGS, 'num_refine': 2,
                                 'refine_grad_scale': scale})
            head.init_weights()
            x = torch.randn(22, 8, 7, 7, requires_grad=True)
            cls_logits, det_logits, refine, _ = head(x)
            bboxes = [_boxes(n, seed=n) for n in (16, 5, 1)]
            losses = head.loss_by_feat(
                cls_logits, det_logits, refine, bboxes,
                [torch.tensor([1]), torch.tensor([0, 3]), torch.tensor([])])
            refine_loss = losses['loss_refine1'] + losses['loss_refine2']
            wsddn = torch.autograd.grad(losses['loss_wsddn'], x,
                                        retain_graph=True)[0]
            params = [x, head.shared_fcs[3].weight, head.fc_refine[0].weight]
            # with scale 0, x and fc7 are not in the refinement's graph
            refine = torch.autograd.grad(refine_loss, params,
                                         allow_unused=True)
            refine = [torch.zeros_like(p) if g is None else g
                      for g, p in zip(refine, params)]
            grads[scale] = dict(
                zip(('x', 'fc7', 'fc_refine'), refine),
                wsddn=wsddn, loss=refine_loss.detach())
        full = grads[1.0]
        self.assertGreater(full['x'].abs().sum().item(), 0)
        for scale in (0.25, 0.0):
            ours = grads[scale]
            torch.testing.assert_close(ours['loss'], full['loss'])
            torch.testing.assert_close(ours['fc_refine'], full['fc_refine'])
            torch.testing.assert_close(ours['wsddn'], full['wsddn'])
            torch.testing.assert_close(ours['x'], scale * full['x'])
            torch.testing.assert_close(ours['fc7'], scale * full['fc7'])
        for bad in (-0.1, 1.5):
            with self.assertRaisesRegex(ValueError, 'refine_grad_scale'):
                MODELS.build({**self.DEFAULT_ARGS, 'num_refine': 1,
                              'refine_grad_scale': bad})

    def test_predict_by_feat(self):
        head = MODELS.build(self.DEFAULT_ARGS)
        scores = torch.tensor([[0.6, 0.1], [0.5, 0.0], [0.15, 0.3]])
        bboxes = torch.tensor([[0., 0., 20., 20.], [1., 1., 21., 21.],
                               [30., 10., 50., 30.]])
        img_meta = dict(
            img_shape=(40, 60),
            ori_shape=(20, 30),
            scale_factor=(2.0, 2.0),
            flip=True,
            flip_direction='horizontal')
        cfg = ConfigDict(
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=10)
        res = head.predict_by_feat([scores], [bboxes], [img_meta], cfg)[0]
        # Box 1 of class 0 is suppressed by box 0; class 1 of box 1 is below
        # score_thr.
        torch.testing.assert_close(res.scores,
                                   torch.tensor([0.6, 0.3, 0.15, 0.1]))
        torch.testing.assert_close(res.labels, torch.tensor([0, 1, 0, 1]))
        # Flip undone in the 60 px wide input, then halved.
        torch.testing.assert_close(res.bboxes[0],
                                   torch.tensor([20., 0., 30., 10.]))
        torch.testing.assert_close(res.bboxes[1],
                                   torch.tensor([5., 5., 15., 15.]))
        no_rescale = head.predict_by_feat([scores], [bboxes], [img_meta],
                                          dict(max_per_img=2), False)[0]
        torch.testing.assert_close(no_rescale.bboxes[0], bboxes[0])
        self.assertEqual(len(no_rescale), 2)
        # nothing above score_thr: an empty result, not mmcv's error
        none = head.predict_by_feat([scores], [bboxes], [img_meta],
                                    {**cfg, 'score_thr': 0.7})[0]
        self.assertEqual(len(none), 0)
        self.assertEqual(none.bboxes.shape, (0, 4))


class TestMinePseudoLabels(TestCase):

    def test_hand_made_case(self):
        # Regions 0/1 overlap (IoU 0.81), 2/3 overlap (IoU 0.5625), 4 alone.
        bboxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.],
                               [20., 20., 40., 40.], [25., 25., 40., 40.],
                               [60., 60., 70., 70.]])
        # Three classes; class 1 absent. Seeds: class 0 -> region 1 (0.7),
        # class 2 -> region 3 (0.6).
        prev_scores = torch.tensor([[0.2, 0.9, 0.0], [0.7, 0.0, 0.1],
                                    [0.0, 0.0, 0.3], [0.1, 0.0, 0.6],
                                    [0.0, 0.1, 0.0]])
        labels, weights = mine_pseudo_labels(bboxes, prev_scores,
                                             torch.tensor([2, 0]))
        torch.testing.assert_close(labels, torch.tensor([0, 0, 2, 2, 3]))
        # Region 4 is background, weighted by its closest seed (ties at IoU 0
        # go to the first seed, class 0).
        torch.testing.assert_close(weights,
                                   torch.tensor([0.7, 0.7, 0.6, 0.6, 0.7]))
        # An IoU threshold above 0.5625 turns region 2 into background.
        labels, _ = mine_pseudo_labels(
            bboxes, prev_scores, torch.tensor([0, 2]), iou_thr=0.6)
        torch.testing.assert_close(labels, torch.tensor([0, 0, 3, 2, 3]))
        # Regions far from every seed can be ignored.
        _, weights = mine_pseudo_labels(
            bboxes, prev_scores, torch.tensor([0, 2]), ignore_iou_thr=0.1)
        self.assertEqual(weights[4].item(), 0.0)

    def test_no_positive_label(self):
        labels, weights = mine_pseudo_labels(
            _boxes(4), torch.rand(4, 3), torch.tensor([], dtype=torch.long))
        torch.testing.assert_close(labels, torch.full((4, ), 3))
        torch.testing.assert_close(weights, torch.zeros(4))

    def test_batch_matches_oracle(self):
        """Padded batch mining equals the per-image definition; padded
        regions (scores -1) are never seeds and weigh 0."""
        gen = torch.Generator().manual_seed(1)
        num_rois, num_classes = (7, 3, 5), 4
        bboxes = torch.zeros(3, 7, 4)
        scores = torch.full((3, 7, num_classes), -1.0)
        present = [[0, 2], [3], []]
        gt_mask = torch.zeros(3, num_classes, dtype=torch.bool)
        for i, n in enumerate(num_rois):
            bboxes[i, :n] = _boxes(n, seed=i)
            scores[i, :n] = torch.rand(n, num_classes, generator=gen)
            gt_mask[i, present[i]] = True
        labels, weights = mine_pseudo_labels_batch(bboxes, scores, gt_mask)
        for i, n in enumerate(num_rois):
            exp_labels, exp_weights = _mine_oracle(bboxes[i, :n],
                                                   scores[i, :n], present[i])
            torch.testing.assert_close(labels[i, :n], exp_labels)
            torch.testing.assert_close(weights[i, :n], exp_weights)
            self.assertTrue((weights[i, n:] == 0).all())

    def test_graph_seeds_hand_made_case(self):
        """A dense group of overlapping regions wins over a lone region
        with a higher score, and the lone one becomes the second seed."""
        bboxes = torch.tensor([[0., 0., 10., 10.], [1., 0., 11., 10.],
                               [0., 1., 10., 11.], [50., 50., 60., 60.],
                               [80., 80., 90., 90.]])
        prev_scores = torch.tensor([[0.6], [0.5], [0.4], [0.9], [0.0]])
        inds, scores, valid = graph_seeds(bboxes[None], prev_scores[None],
                                          torch.ones(1, 1, dtype=torch.bool),
                                          top_ratio=0.8, max_centers=3)
        # nodes 0-3 (ceil(0.8 * 5) = 4); 0, 1, 2 are neighbours (IoU > 0.4)
        self.assertEqual(inds[0, 0].tolist()[:2], [0, 3])
        torch.testing.assert_close(scores[0, 0], torch.tensor([0.6, 0.9,
                                                               0.0]))
        self.assertEqual(valid[0, 0].tolist(), [True, True, False])
        # OICR's single seed is the lone region 3: regions 0-2 background
        labels, _ = mine_pseudo_labels(bboxes, prev_scores, torch.tensor([0]))
        self.assertEqual(labels.tolist(), [1, 1, 1, 0, 1])
        labels, weights = mine_pseudo_labels(
            bboxes, prev_scores, torch.tensor([0]),
            seeds=dict(type='graph', top_ratio=0.8, max_centers=3))
        self.assertEqual(labels.tolist(), [0, 0, 0, 0, 1])
        torch.testing.assert_close(weights,
                                   torch.tensor([0.6, 0.6, 0.6, 0.9, 0.6]))

    def test_graph_batch_matches_oracle(self):
        """Batched graph-centre mining equals the per-image definition,
        with padded regions (never nodes, weight 0), an image without
        positive classes and one seed per class (max_centers=1)."""
        gen = torch.Generator().manual_seed(3)
        num_rois, num_classes = (40, 13, 27), 4
        bboxes = torch.zeros(3, 40, 4)
        scores = torch.full((3, 40, num_classes), -1.0)
        present = [[0, 2, 3], [1], []]
        gt_mask = torch.zeros(3, num_classes, dtype=torch.bool)
        for i, n in enumerate(num_rois):
            bboxes[i, :n] = _boxes(n, size=48, seed=10 + i)
            scores[i, :n] = torch.rand(n, num_classes, generator=gen)
            gt_mask[i, present[i]] = True
        for graph in (dict(top_ratio=0.3, iou_thr=0.3, max_centers=4),
                      dict(top_ratio=1.0, iou_thr=0.2, max_centers=1)):
            labels, weights = mine_pseudo_labels_batch(
                bboxes, scores, gt_mask, seeds=dict(type='graph', **graph))
            for i, n in enumerate(num_rois):
                exp_labels, exp_weights = _mine_graph_oracle(
                    bboxes[i, :n], scores[i, :n], present[i], graph)
                torch.testing.assert_close(labels[i, :n], exp_labels)
                torch.testing.assert_close(weights[i, :n], exp_weights)
                self.assertTrue((weights[i, n:] == 0).all())
        # several centres per class happen here, so the case is not trivial
        _, _, valid = graph_seeds(bboxes, scores, gt_mask, 0.3, 0.3, 4)
        self.assertGreater(int(valid.sum(-1).max()), 1)

    def test_bad_seeds_config(self):
        for seeds, field in ((dict(type='clusters'), 'clusters'),
                             (dict(type='graph', top=0.1), 'top'),
                             (dict(type='graph', top_ratio=0), 'top_ratio'),
                             (dict(type='top', max_centers=2),
                              'max_centers')):
            with self.assertRaisesRegex(ValueError, field):
                MODELS.build(dict(type='WSDDNBBoxHead', num_classes=3,
                                  num_refine=1, refine_seeds=seeds))

    def test_no_gradient(self):
        prev_scores = torch.rand(4, 3, requires_grad=True)
        _, weights = mine_pseudo_labels(
            _boxes(4), prev_scores, torch.tensor([1]))
        self.assertFalse(weights.requires_grad)


class TestPretrainedFCs(TestCase):

    def test_vgg_classifier_weights_load(self):
        """fc6/fc7 load from an mmpretrain VGG checkpoint's classifier."""
        import os.path as osp
        import tempfile
        torch.manual_seed(0)
        state_dict = {
            'backbone.classifier.0.weight': torch.randn(16, 8 * 49),
            'backbone.classifier.0.bias': torch.randn(16),
            'backbone.classifier.3.weight': torch.randn(16, 16),
            'backbone.classifier.3.bias': torch.randn(16),
            'backbone.classifier.6.weight': torch.randn(1000, 16),
            'backbone.classifier.6.bias': torch.randn(1000),
        }
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, 'vgg.pth')
            torch.save(dict(state_dict=state_dict), path)
            head = MODELS.build({
                **TestWSDDNBBoxHead.DEFAULT_ARGS, 'fcs_init_cfg':
                dict(
                    type='Pretrained',
                    checkpoint=path,
                    prefix='backbone.classifier.')
            })
            head.init_weights()
        torch.testing.assert_close(head.shared_fcs[0].weight,
                                   state_dict['backbone.classifier.0.weight'])
        torch.testing.assert_close(head.shared_fcs[3].bias,
                                   state_dict['backbone.classifier.3.bias'])
