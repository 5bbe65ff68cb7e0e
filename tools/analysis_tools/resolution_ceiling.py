# Copyright (c) mmkdwsd authors. All rights reserved.
"""How much of the resolution gap can a 32 px student close at all?

An analysis for issue 8's "recover 90% of the resolution gap" target, not
part of the method. KD-WSD distils a weakly-supervised detector into the
low-resolution student; this script distils the plain classifier that saw
the same images at the teacher's resolution (the "reference" of the
results table, the upper end of the gap) into the same 32 px student, with
the strongest simple transfer there is between two copies of one network:
its whole last feature map (the 64 px map average-pooled to the student's
size, through a 1x1 adapter, normalised by the teacher map's energy like
``RegionFeatureLoss(normalize=True)``) plus its logits (sigmoid BCE), next
to the labels. Both views come from the same loaded scene through the
demo's own resizes (mmdet's ``MultiBranch``), so the student sees exactly
the baseline's 32 px images.

If this student gets close to the reference, the 32 px thumbnails hold the
information and what limits KD-WSD here is the teacher's knowledge; if it
stops where KD-WSD stops, the input resolution does.

    python tools/analysis_tools/resolution_ceiling.py \\
        --teacher-ckpt work_dirs/demo/reference/epoch_12.pth \\
        --work-dir work_dirs/resolution_ceiling/ref12 [--epochs 12] [--seed 0]
"""
import argparse
import os.path as osp
import sys

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.model import BaseModel  # noqa: E402
from mmengine.runner import Runner, load_checkpoint  # noqa: E402

from mmkdwsd.models.distillers import freeze  # noqa: E402
from mmkdwsd.registry import MODELS  # noqa: E402

STUDENT_CONFIG = 'configs/mlc/resnet18-tiny_1xb8-12e_multidigits-32px.py'
TEACHER_CONFIG = 'configs/mlc/resnet18-tiny_1xb8-12e_multidigits-64px.py'


@MODELS.register_module(force=True)  # the tests load this file again
class ClassifierToClassifierKD(BaseModel):
    """A frozen classifier at high resolution taught to the same network at
    low resolution: labels + feature map + logits.

    Args:
        teacher (dict): The teacher classifier's model config.
        teacher_ckpt (str): Its checkpoint.
        student (dict): The student classifier's model config.
        feat_weight (float): Weight of the normalised feature-map term.
        pred_weight (float): Weight of the logit term.
        data_preprocessor (dict): A ``KDDataPreprocessor`` config.
    """

    def __init__(self, teacher: dict, teacher_ckpt: str, student: dict,
                 feat_weight: float, pred_weight: float, feat_level: str,
                 data_preprocessor: dict) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.teacher = MODELS.build(teacher)
        load_checkpoint(self.teacher, teacher_ckpt, map_location='cpu')
        freeze(self.teacher)
        self.student = MODELS.build(student)
        channels = student['head']['in_channels']
        self.adapter = nn.Conv2d(channels, channels, 1)
        self.feat_level = feat_level
        self.feat_weight = feat_weight
        self.pred_weight = pred_weight

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self

    @staticmethod
    def _run(model, inputs):
        feat_map = model.backbone(inputs)[-1]
        return feat_map, model.head(model.neck((feat_map, )))

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':  # the two-view batch
            return self.loss(inputs, data_samples)
        if isinstance(inputs, dict):
            inputs, data_samples = inputs['student'], \
                (data_samples or {}).get('student')
        if mode == 'predict':
            return self.student.predict(inputs, data_samples)
        return self._run(self.student, inputs)[1]

    def loss(self, inputs: dict, data_samples: dict) -> dict:
        with torch.no_grad():
            t_map, t_logits = self._run(self.teacher, inputs['teacher'])
        s_map, s_logits = self._run(self.student, inputs['student'])
        samples = data_samples['student']
        if self.feat_level == 'pooled':  # the GeM-pooled vectors
            target = self.teacher.neck((t_map, ))[0]
            pred = self.adapter(self.student.neck(
                (s_map, ))[0][..., None, None]).flatten(1)
        else:
            target = F.adaptive_avg_pool2d(t_map, s_map.shape[-2:])
            pred = self.adapter(s_map)
        loss_feat = ((pred - target)**2).sum() / (target**2).sum().clamp(
            min=1e-12)
        loss_pred = F.binary_cross_entropy_with_logits(
            s_logits, t_logits.sigmoid(), reduction='sum') / len(s_logits)
        return dict(
            loss_cls=self.student.head._get_loss(s_logits, samples)['loss'],
            loss_feat=self.feat_weight * loss_feat,
            loss_pred=self.pred_weight * loss_pred)


def build_config(args) -> Config:
    cfg = Config.fromfile(osp.join(_ROOT, STUDENT_CONFIG))
    teacher = Config.fromfile(osp.join(_ROOT, TEACHER_CONFIG))
    size = dict(student=cfg.student_scale, teacher=teacher.student_scale)
    branches = {
        name: [
            dict(type='Resize', scale=(s, s), keep_ratio=False),
            dict(type='mmpretrain.PackInputs')
        ]
        for name, s in size.items()
    }
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageSafe'),
        dict(type='mmdet.MultiBranch', branch_field=['teacher', 'student'],
             **branches)
    ]
    cfg.train_dataloader.num_workers = args.workers
    cfg.train_dataloader.persistent_workers = args.workers > 0
    cfg.val_dataloader.num_workers = args.workers
    cfg.val_dataloader.persistent_workers = args.workers > 0
    student = cfg.model
    cfg.model = dict(
        type='ClassifierToClassifierKD',
        teacher=teacher.model,
        teacher_ckpt=args.teacher_ckpt,
        student=student,
        feat_weight=args.feat_weight,
        pred_weight=args.pred_weight,
        feat_level=args.feat_level,
        data_preprocessor=dict(
            type='KDDataPreprocessor',
            teacher=teacher.model.data_preprocessor,
            student=student.data_preprocessor))
    cfg.max_epochs = args.epochs
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop', max_epochs=args.epochs,
        val_interval=args.epochs)
    cfg.param_scheduler = [
        dict(type='CosineAnnealingLR', by_epoch=True, begin=0,
             end=args.epochs, T_max=args.epochs, eta_min=1e-5,
             convert_to_iter_based=True)
    ]
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = args.work_dir
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    return cfg


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--teacher-ckpt', required=True,
                        help='checkpoint of the 64 px reference classifier')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--epochs', type=int, default=12)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--feat-weight', type=float, default=7.0)
    parser.add_argument('--pred-weight', type=float, default=1.0)
    parser.add_argument('--feat-level', choices=['map', 'pooled'],
                        default='map')
    parser.add_argument('--workers', type=int, default=1)
    args = parser.parse_args(argv)
    if not osp.isfile(args.teacher_ckpt):
        sys.exit(f'--teacher-ckpt {args.teacher_ckpt}: no such file (train '
                 'the 64 px reference first: make demo)')
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(1)
    Runner.from_cfg(build_config(args)).train()


if __name__ == '__main__':
    main()
