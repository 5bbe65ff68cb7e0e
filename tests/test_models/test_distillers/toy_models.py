# Copyright (c) mmkdwsd authors. All rights reserved.
"""Toy teacher and student parts for the distiller tests (mmrazor pattern).

``ToyWSDDN`` implements the teacher contract of ``docs/design.md``
(``predict_regions``) with a two-conv backbone, RoIAlign, one fc7 layer and
WSDDN's two streams; ``ToyStudentBackbone`` is a two-conv stride-4 backbone
for an ``mmpretrain.ImageClassifier`` student.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.ops import roi_align
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox2roi
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from mmpretrain.structures import DataSample

from mmkdwsd.registry import MODELS

NUM_CLASSES = 4
FC7_DIM = 16
STUDENT_CHANNELS = 8


@MODELS.register_module(force=True)
class ToyStudentBackbone(nn.Module):
    """Two 3x3 convs with stride 2: (N, 3, h, w) -> ((N, C, h/4, w/4), )."""

    def __init__(self, out_channels: int = STUDENT_CHANNELS) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, out_channels, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, 2, 1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        return (self.layers(x), )


@MODELS.register_module(force=True)
class ToyWSDDN(BaseModel):
    """A tiny WSDDN with the teacher contract (``predict_regions``)."""

    def __init__(self,
                 num_classes: int = NUM_CLASSES,
                 channels: int = 8,
                 fc_dim: int = FC7_DIM,
                 roi_size: int = 3,
                 data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.num_classes = num_classes
        self.roi_size = roi_size
        self.backbone = nn.Sequential(
            nn.Conv2d(3, channels, 3, 2, 1), nn.BatchNorm2d(channels),
            nn.ReLU(), nn.Conv2d(channels, channels, 3, 2, 1), nn.ReLU())
        self.fc7 = nn.Sequential(nn.Flatten(),
                                 nn.Linear(channels * roi_size**2, fc_dim),
                                 nn.ReLU(), nn.Dropout(0.5))
        self.fc_cls = nn.Linear(fc_dim, num_classes)
        self.fc_det = nn.Linear(fc_dim, num_classes)

    def predict_regions(self, inputs: torch.Tensor,
                        data_samples: List[DetDataSample]) -> dict:
        proposals = [s.proposals.bboxes for s in data_samples]
        scores = [s.proposals.scores for s in data_samples]
        feat = self.backbone(inputs)
        pooled = roi_align(feat, bbox2roi(proposals), self.roi_size, 0.25, 2,
                           'avg', True)
        counts = [len(p) for p in proposals]
        fc7 = self.fc7(pooled).split(counts)
        cls_logits = [self.fc_cls(f) for f in fc7]
        det_logits = [self.fc_det(f) for f in fc7]
        region_scores = [
            c.softmax(1) * d.softmax(0)
            for c, d in zip(cls_logits, det_logits)
        ]
        return dict(
            img_scores=torch.stack([r.sum(0) for r in region_scores]),
            cls_logits=cls_logits,
            det_logits=det_logits,
            region_feats=list(fc7),
            proposals=proposals,
            proposal_scores=scores,
            region_scores=region_scores)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.predict_regions(inputs, data_samples)
        if mode == 'loss':
            labels = torch.stack([
                F.one_hot(s.gt_label, self.num_classes).sum(0).clamp(max=1)
                for s in data_samples
            ]).float()
            return dict(
                loss_img=F.binary_cross_entropy(
                    out['img_scores'].clamp(1e-4, 1 - 1e-4), labels))
        return out['img_scores']


def toy_student(num_classes: int = NUM_CLASSES) -> dict:
    """Config of an ImageClassifier on :class:`ToyStudentBackbone`."""
    return dict(
        type='mmpretrain.ImageClassifier',
        data_preprocessor=dict(
            type='mmpretrain.ClsDataPreprocessor',
            mean=[127.5] * 3,
            std=[127.5] * 3,
            to_rgb=False),
        backbone=dict(type='ToyStudentBackbone'),
        neck=dict(type='mmpretrain.GlobalAveragePooling'),
        head=dict(
            type='mmpretrain.MultiLabelLinearClsHead',
            num_classes=num_classes,
            in_channels=STUDENT_CHANNELS,
            loss=dict(type='mmpretrain.CrossEntropyLoss', use_sigmoid=True)))


def toy_kd_batch(num_images: int = 2,
                 num_proposals: int = 16,
                 teacher_size: int = 32,
                 student_size: int = 16,
                 seed: int = 0) -> dict:
    """A collated two-view batch as mmdet's MultiBranch + pseudo_collate
    give it: uint8 images and packed samples per branch."""
    gen = torch.Generator().manual_seed(seed)
    inputs = dict(teacher=[], student=[])
    samples = dict(teacher=[], student=[])
    for i in range(num_images):
        img = torch.randint(
            0,
            256, (3, teacher_size, teacher_size),
            dtype=torch.uint8,
            generator=gen)
        small = F.interpolate(
            img[None].float(),
            size=(student_size, student_size),
            mode='bilinear',
            align_corners=False)[0].round().byte()
        labels = torch.tensor([i % NUM_CLASSES, (i + 2) % NUM_CLASSES])
        xy = torch.rand(num_proposals, 2, generator=gen) * teacher_size / 2
        wh = torch.rand(num_proposals, 2, generator=gen) * teacher_size / 2
        teacher = DetDataSample(
            metainfo=dict(
                img_shape=(teacher_size, teacher_size),
                ori_shape=(teacher_size, teacher_size),
                scale_factor=(1., 1.)))
        teacher.proposals = InstanceData(
            bboxes=torch.cat([xy, xy + wh + 1], dim=1),
            scores=torch.rand(num_proposals, generator=gen))
        teacher.gt_label = labels
        student = DataSample(
            metainfo=dict(img_shape=(student_size, student_size)))
        student.set_gt_label(labels)
        inputs['teacher'].append(img)
        inputs['student'].append(small)
        samples['teacher'].append(teacher)
        samples['student'].append(student)
    return dict(inputs=inputs, data_samples=samples)


KD_PREPROCESSOR = dict(
    type='KDDataPreprocessor',
    teacher=dict(
        type='mmdet.DetDataPreprocessor',
        mean=[127.5] * 3,
        std=[127.5] * 3,
        bgr_to_rgb=False,
        pad_size_divisor=1),
    student=dict(
        type='mmpretrain.ClsDataPreprocessor',
        mean=[127.5] * 3,
        std=[127.5] * 3,
        to_rgb=False))
