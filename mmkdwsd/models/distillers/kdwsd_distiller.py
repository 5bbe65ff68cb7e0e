# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from torch import Tensor

from mmkdwsd.registry import MODELS
from mmkdwsd.utils import model_num_classes
from ..losses import (refined_soft_targets, stack_soft_targets,
                      wsddn_soft_targets)
from .teacher_setup import (freeze, kd_preprocessor_cfg, load_teacher_weights,
                            teacher_model_cfg)

ForwardResults = Union[Dict[str, Tensor], list, Tensor]


@MODELS.register_module()
class KDWSDDistiller(BaseModel):
    """Distil a frozen weakly-supervised detector into a plain multi-label
    classifier.

    Implementation of `KD-WSD <https://arxiv.org/abs/1809.05884>`_ (Liu et
    al., ACM MM 2018). The teacher (e.g. :class:`WSDDN`) is built from its own
    training config and loaded from its checkpoint, then frozen; the student
    is an ``mmpretrain.ImageClassifier`` that runs once per step on its own
    (low-resolution) view. Two distillation terms, each optional:

    - feature level: the student RoI-pools the teacher's proposals, rescaled
      to the student's input, from its last feature map or the output of
      one of its modules (``student_layer``) (mmcv ``RoIAlign``);
      a projection that exists only for distillation maps them to the
      teacher's fc7 dimension; squared L2 to the teacher's fc7 region
      features (``RegionFeatureLoss``);
    - prediction level: teacher soft targets
      ``p' = sum_r softmax_K(M^c/t_c) * softmax_R(M^d/t_d)`` against the
      student's ``sigmoid(a * z)`` with a learnable per-class ``a``
      initialised to ``1 / t_s`` (``MultiLabelKDLoss``).

    Args:
        teacher_cfg (str | dict): The teacher's config file (its ``model`` is
            used), a full config dict with a ``model`` key, or a model dict.
        student (dict): Config of the student ``mmpretrain.ImageClassifier``.
        teacher_ckpt (str, optional): Teacher checkpoint, loaded on the CPU
            (strict). Defaults to None (random teacher, with a warning).
        sup_weight (float): Weight of the student's supervised BCE; 0 skips
            it (stage 1 of the official release). Defaults to 1.0.
        feat_distill (dict, optional): Feature-level settings, see
            :class:`RegionDistiller` arguments (``in_channels``,
            ``out_channels``, ``hidden_channels``, ``roi_size``, ``regions``
            'all' or 'topk', ``topk``, ``objectness_weight``,
            ``num_sampled``, ``loss``), plus ``student_layer``: the name of
            the student module whose output is pooled (e.g.
            ``'backbone.layer1'``, recorded by a forward hook; the student
            network is unchanged), None for the backbone's last output.
            Defaults to None (off).
        pred_distill (dict, optional): Prediction-level settings:
            ``cls_temperature``, ``det_temperature``, ``student_temperature``,
            ``learnable_scale``, ``loss``, ``target_source``: 'wsddn'
            (the paper's ``p'`` from the WSDDN streams, at the two
            temperatures) or 'refined' (an OICR teacher's refinement
            streams: each class's most confident region,
            :func:`refined_soft_targets`; no temperatures) or 'mixed' (the
            mean of the two), and ``soft_targets``: 'online'
            (the teacher runs on every batch's teacher view, the official
            release) or 'cached' (each student sample carries the
            ``soft_target`` that ``tools/cache_soft_targets.py`` computed
            once per image; the teacher does not run in training, and the
            batch may be the student view alone). Defaults to None (off).
        num_classes (int, optional): The dataset's class count, checked
            against both models. Defaults to None.
        eval_teacher (bool): Whether ``predict`` also reports the teacher's
            image scores (``teacher_pred_score``). Defaults to True.
        data_preprocessor (dict, optional): A :class:`KDDataPreprocessor`
            config; a branch left out (or None) takes the teacher's /
            student's own ``data_preprocessor``. Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to None.

    .. code:: text

        loss(): teacher_outputs_for_loss()
                                       -> teacher.predict_regions()
                                          (skipped: cached soft targets
                                           and no feature level;
                                           predict_region_feats() of the
                                           drawn regions: feature level,
                                           sampled, no online soft
                                           targets)
                extract_student()      -> backbone -> neck -> head (once)
                loss_by_gt_labels()    -> student.loss_cls
                loss_feat()            -> region_distiller()
                                       -> distill.loss_feat
                loss_pred()            -> get_soft_targets() or the
                                          samples' cached soft_target
                                       -> distill.loss_pred
        predict(): student.predict() (+ teacher img_scores)
    """

    def __init__(self,
                 teacher_cfg: Union[str, ConfigType],
                 student: ConfigType,
                 teacher_ckpt: Optional[str] = None,
                 sup_weight: float = 1.0,
                 feat_distill: OptConfigType = None,
                 pred_distill: OptConfigType = None,
                 num_classes: Optional[int] = None,
                 eval_teacher: bool = True,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        teacher_model = teacher_model_cfg(teacher_cfg)
        super().__init__(
            data_preprocessor=kd_preprocessor_cfg(data_preprocessor,
                                                  teacher_model, student),
            init_cfg=init_cfg)
        self.teacher_cfg = teacher_cfg
        self.teacher = MODELS.build(teacher_model)
        self._check_target_source((pred_distill or {}).get('target_source'))
        self.student = MODELS.build(student)
        self.num_classes = self._check_num_classes(num_classes)
        if teacher_ckpt is not None:
            self.load_teacher_checkpoint(teacher_ckpt)
        else:
            MMLogger.get_current_instance().warning(
                'KDWSDDistiller: no teacher_ckpt given, the teacher keeps its '
                'initial weights (only sensible in tests)')
        self.teacher._is_init = True
        freeze(self.teacher)
        self.sup_weight = sup_weight
        self.eval_teacher = eval_teacher
        self.feat_cfg = feat_distill
        self.pred_cfg = pred_distill
        self.student_layer = None
        if feat_distill is not None:
            feat_distill = dict(feat_distill)
            self.student_layer = feat_distill.pop('student_layer', None)
            if self.student_layer is not None:
                self._student_layer_module()  # a wrong name fails here
            self.region_distiller = MODELS.build(
                dict(type='RegionDistiller', **feat_distill))
        if pred_distill is not None:
            if pred_distill.get('soft_targets',
                                'online') not in ('online', 'cached'):
                raise ValueError(
                    "KDWSDDistiller: pred_distill.soft_targets must be "
                    "'online' or 'cached', got "
                    f"{pred_distill['soft_targets']!r}")
            scale = 1. / pred_distill.get('student_temperature', 5.)
            self.kd_logit_scale = nn.Parameter(
                torch.full((self.num_classes, ), scale),
                requires_grad=pred_distill.get('learnable_scale', True))
            self.loss_pred_module = MODELS.build(
                pred_distill.get('loss', dict(type='MultiLabelKDLoss')))

    # ---------------------------------------------------------------- setup
    def _check_target_source(self, source: Optional[str]) -> None:
        """Refuse an unknown ``pred_distill.target_source``, and 'refined'
        or 'mixed' with a teacher without refinement streams."""
        if source not in (None, 'wsddn', 'refined', 'mixed'):
            raise ValueError(
                "KDWSDDistiller: pred_distill.target_source must be 'wsddn', "
                f"'refined' or 'mixed', got {source!r}")
        head = getattr(getattr(self.teacher, 'roi_head', None), 'bbox_head',
                       None)
        if source in ('refined', 'mixed') and not getattr(
                head, 'with_refine', False):
            raise ValueError(
                f'KDWSDDistiller: pred_distill.target_source={source!r} needs '
                'a teacher with OICR refinement streams '
                '(model.roi_head.bbox_head.num_refine > 0 in the teacher '
                f'config {self.teacher_cfg!r}); this teacher has none')

    def _student_layer_module(self) -> nn.Module:
        """The student's module ``feat_distill.student_layer`` (e.g.
        ``'backbone.layer1'``), whose output the feature level pools from
        instead of the backbone's last output."""
        try:
            return self.student.get_submodule(self.student_layer)
        except AttributeError:
            raise ValueError(
                'KDWSDDistiller: feat_distill.student_layer='
                f'{self.student_layer!r} is not a module of the student; '
                f'e.g. {[n for n, _ in self.student.named_children()]} and '
                'their children (backbone.layer1, ...)') from None

    def _check_num_classes(self, num_classes: Optional[int]) -> int:
        """Refuse teacher, student and dataset class counts that differ."""
        counts = dict(
            teacher=model_num_classes(self.teacher),
            student=model_num_classes(self.student),
            dataset=num_classes)
        known = {k: v for k, v in counts.items() if v is not None}
        if 'student' not in known:
            raise ValueError('KDWSDDistiller: cannot read the student\'s '
                             'num_classes (its head needs one)')
        if len(set(known.values())) > 1:
            raise ValueError(
                'KDWSDDistiller: class counts differ: ' +
                ', '.join(f'{k} {v}' for k, v in known.items()) +
                '. Teacher, student and dataset must use the same classes '
                '(set num_classes in the student config, and use the teacher '
                'trained on this dataset).')
        return known['student']

    def check_dataset_classes(self, classes: Sequence[str]) -> None:
        """Check a dataset's class list against the models (before training).

        Args:
            classes (Sequence[str]): ``dataset.metainfo['classes']``.
        """
        self._check_num_classes(len(classes))

    def load_teacher_checkpoint(self, filename: str) -> None:
        """Load the teacher's weights (CPU, strict), listing key mismatches.

        Args:
            filename (str): A checkpoint written by the teacher's training.
        """
        source = f'"{self.teacher_cfg}"' if isinstance(
            self.teacher_cfg, str) else 'the teacher config dict'
        load_teacher_weights(self.teacher, filename, source)

    def train(self, mode: bool = True) -> 'KDWSDDistiller':
        """Set train mode; the teacher (and its BN/dropout) stays in eval."""
        super().train(mode)
        self.teacher.eval()
        return self

    # -------------------------------------------------------------- forward
    def forward(self,
                inputs: Union[Dict[str, Tensor], Tensor],
                data_samples: Optional[Union[dict, list]] = None,
                mode: str = 'tensor') -> ForwardResults:
        """The unified entry of ``loss`` / ``predict`` / ``tensor`` modes."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    @staticmethod
    def _branch(inputs, data_samples, branch: str):
        """The inputs and samples of one branch (plain tensors: student)."""
        if isinstance(inputs, dict):
            samples = data_samples.get(branch) if data_samples else None
            return inputs.get(branch), samples
        return (inputs, data_samples) if branch == 'student' else (None, None)

    def _forward(self, inputs, data_samples=None) -> Tensor:
        """Student logits (N, K) of the student view."""
        student_inputs, _ = self._branch(inputs, data_samples, 'student')
        return self.extract_student(student_inputs)[1]

    def extract_student(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        """Run the student once.

        Args:
            inputs (Tensor): Student view, shape (N, 3, h, w).

        Returns:
            tuple[Tensor, Tensor]: The map the feature level pools from
            (N, C, h / s, w / s): the last backbone output, or
            ``student_layer``'s; and the logits (N, K).
        """
        if self.student_layer is None:
            feats, logits = self._student_forward(inputs)
            return feats[-1], logits
        # hooked for this forward only: the student's own forward (predict,
        # export) records nothing and keeps no map alive
        layer_out = []
        handle = self._student_layer_module().register_forward_hook(
            lambda module, args, output: layer_out.append(output))
        try:
            _, logits = self._student_forward(inputs)
        finally:
            handle.remove()
        if not layer_out:
            raise RuntimeError(
                f'KDWSDDistiller: feat_distill.student_layer='
                f'{self.student_layer!r} did not run in the student forward')
        return layer_out[-1], logits

    def _student_forward(self, inputs: Tensor) -> Tuple[tuple, Tensor]:
        """The student's backbone outputs (a tuple) and logits (N, K)."""
        feats = self.student.backbone(inputs)
        if isinstance(feats, Tensor):
            feats = (feats, )
        neck_feats = self.student.neck(feats) if self.student.with_neck \
            else feats
        return feats, self.student.head(neck_feats)

    @torch.no_grad()
    def get_teacher_outputs(self, inputs: Tensor, data_samples: list) -> dict:
        """The frozen teacher's region outputs on the teacher view.

        Args:
            inputs (Tensor): Teacher view, shape (N, 3, H, W).
            data_samples (list[DetDataSample]): With ``proposals``.

        Returns:
            dict: ``WSDDN.predict_regions`` outputs: ``img_scores`` (N, K);
            lists of ``cls_logits`` / ``det_logits`` / ``region_scores``
            (R_i, K), ``region_feats`` (R_i, D), ``proposals`` (R_i, 4),
            ``proposal_scores`` (R_i,).
        """
        if not hasattr(self.teacher, 'predict_regions'):
            raise TypeError(f'KDWSDDistiller: the teacher '
                            f'{type(self.teacher).__name__} has no '
                            'predict_regions(inputs, data_samples) method')
        self.teacher.eval()
        return self.teacher.predict_regions(inputs, data_samples)

    @torch.no_grad()
    def teacher_outputs_for_loss(self, inputs: Tensor,
                                 data_samples: list) -> dict:
        """What this step's losses need from the teacher, and no more.

        The feature level with ``num_sampled`` (``'all'`` regions), alone
        (stage 1) or with cached soft targets, uses the fc7 features of a
        random subset of each image's proposals and nothing else of the
        teacher: the subset is drawn first
        (:meth:`RegionDistiller.draw_proposals`) and the teacher computes
        those regions' features only (``WSDDN.predict_region_feats``), the
        same values as the full forward's for those regions. Otherwise
        (online soft targets need every region's scores):
        :meth:`get_teacher_outputs`.

        Args:
            inputs (Tensor): Teacher view, shape (N, 3, H, W).
            data_samples (list[DetDataSample]): With ``proposals``.

        Returns:
            dict: :meth:`get_teacher_outputs`'s, or ``region_feats``,
            ``proposals`` and ``proposal_scores`` of the drawn regions.
        """
        online_targets = self.pred_cfg is not None and \
            not self.cached_targets
        if not online_targets and hasattr(self.teacher,
                                          'predict_region_feats'):
            drawn = self.region_distiller.draw_proposals(
                self.teacher.get_proposals(data_samples))
            if drawn is not None:
                self.teacher.eval()
                return self.teacher.predict_region_feats(inputs, drawn)
        return self.get_teacher_outputs(inputs, data_samples)

    # ----------------------------------------------------------------- loss
    def loss(self, inputs: Union[Dict[str, Tensor], Tensor],
             data_samples: Union[Dict[str, list], list]) -> Dict[str, Tensor]:
        """Supervised and distillation losses of one batch.

        Args:
            inputs (dict | Tensor): ``teacher`` (N, 3, H, W) and ``student``
                (N, 3, h, w) views; or the student view alone when the
                teacher does not run in training (cached soft targets, no
                feature level).
            data_samples (dict | list): ``teacher`` DetDataSamples
                (proposals) and ``student`` DataSamples (``gt_label``,
                ``soft_target`` when cached); or the student samples alone.

        Returns:
            dict[str, Tensor]: ``student.loss_cls``, ``distill.loss_feat``,
            ``distill.loss_pred`` (those enabled).
        """
        student_inputs, student_samples = self._branch(
            inputs, data_samples, 'student')
        teacher_out, teacher_samples = None, None
        if self.needs_teacher_in_loss:
            teacher_inputs, teacher_samples = self._branch(
                inputs, data_samples, 'teacher')
            if teacher_inputs is None:
                raise ValueError(
                    'KDWSDDistiller: this batch has no teacher view, which '
                    'the feature level and online soft targets need: use a '
                    "two-view (mmdet.MultiBranch) train pipeline, or "
                    "pred_distill.soft_targets='cached' without feat_distill")
            teacher_out = self.teacher_outputs_for_loss(
                teacher_inputs, teacher_samples)
        feat_map, logits = self.extract_student(student_inputs)
        losses = dict()
        if self.sup_weight > 0:
            losses.update(self.loss_by_gt_labels(logits, student_samples))
        if self.feat_cfg is not None:
            losses.update(
                self.loss_feat(feat_map, student_inputs, teacher_out,
                               teacher_samples, student_samples))
        if self.pred_cfg is not None:
            targets = stack_soft_targets(student_samples, logits) \
                if self.cached_targets else self.get_soft_targets(
                    teacher_out)
            losses.update(self.loss_pred(logits, targets))
        return losses

    @property
    def cached_targets(self) -> bool:
        """Whether soft targets come with the data (``'cached'``)."""
        return self.pred_cfg is not None and self.pred_cfg.get(
            'soft_targets', 'online') == 'cached'

    @property
    def needs_teacher_in_loss(self) -> bool:
        """Whether a training step runs the teacher."""
        return self.feat_cfg is not None or (self.pred_cfg is not None
                                             and not self.cached_targets)

    def loss_by_gt_labels(self, logits: Tensor,
                          data_samples: list) -> Dict[str, Tensor]:
        """The student's supervised loss (its own head's BCE).

        Args:
            logits (Tensor): Student logits, shape (N, K).
            data_samples (list[DataSample]): With ``gt_label``.

        Returns:
            dict[str, Tensor]: ``student.loss_cls``.
        """
        losses = self.student.head._get_loss(logits, data_samples)
        return {
            'student.' + ('loss_cls' if k == 'loss' else k):
            v * self.sup_weight if 'loss' in k else v
            for k, v in losses.items()
        }

    def loss_feat(self, feat_map: Tensor, student_inputs: Tensor,
                  teacher_out: dict, teacher_samples: list,
                  student_samples: list) -> Dict[str, Tensor]:
        """Feature-level distillation on the teacher's regions.

        Args:
            feat_map (Tensor): Student feature map, shape (N, C, h', w').
            student_inputs (Tensor): Student view, shape (N, 3, h, w).
            teacher_out (dict): :meth:`get_teacher_outputs` results.
            teacher_samples (list[DetDataSample]): Teacher view samples.
            student_samples (list[DataSample]): Student view samples.

        Returns:
            dict[str, Tensor]: ``distill.loss_feat``.
        """
        scales = [
            self._teacher_to_student_scale(t, s, student_inputs)
            for t, s in zip(teacher_samples, student_samples)
        ]
        labels = [
            s.gt_label if 'gt_label' in s else None for s in student_samples
        ]
        loss = self.region_distiller(feat_map, student_inputs, teacher_out,
                                     scales, labels)
        return {'distill.loss_feat': loss}

    @staticmethod
    def _teacher_to_student_scale(
            teacher_sample, student_sample,
            student_inputs: Tensor) -> Tuple[float, float]:
        """(x, y) ratio from teacher-input to student-input coordinates."""
        t_h, t_w = teacher_sample.metainfo['img_shape'][:2]
        s_h, s_w = student_sample.metainfo.get('img_shape',
                                               student_inputs.shape[-2:])[:2]
        return s_w / t_w, s_h / t_h

    def loss_pred(self, logits: Tensor,
                  targets: Tensor) -> Dict[str, Tensor]:
        """Prediction-level distillation against the teacher's soft targets.

        Args:
            logits (Tensor): Student logits ``z``, shape (N, K).
            targets (Tensor): Teacher soft targets ``p'`` (N, K), from
                :meth:`get_soft_targets` or the cache.

        Returns:
            dict[str, Tensor]: ``distill.loss_pred`` and ``distill.kd_scale``,
            the mean of ``a``: not a loss term (no ``loss`` in its name, so
            MMEngine logs it without adding it to the loss, and reads it
            when it reads the losses, with no extra wait for the GPU).
        """
        loss = self.loss_pred_module(logits * self.kd_logit_scale, targets)
        return {
            'distill.loss_pred': loss,
            'distill.kd_scale': self.kd_logit_scale.detach().mean()
        }

    def get_soft_targets(self, teacher_out: dict) -> Tensor:
        """Teacher soft targets ``p'`` (N, K) in [0, 1], from the source
        ``pred_distill.target_source`` names."""
        source = self.pred_cfg.get('target_source', 'wsddn')
        if source == 'refined':
            return refined_soft_targets(teacher_out['region_scores'])
        targets = wsddn_soft_targets(
            teacher_out['cls_logits'], teacher_out['det_logits'],
            self.pred_cfg.get('cls_temperature', 0.5),
            self.pred_cfg.get('det_temperature', 0.5))
        if source == 'mixed':
            refined = refined_soft_targets(teacher_out['region_scores'])
            targets = 0.5 * (targets + refined)
        return targets

    # -------------------------------------------------------------- predict
    def predict(self,
                inputs: Union[Dict[str, Tensor], Tensor],
                data_samples: Optional[Union[dict, list]] = None) -> List:
        """The student's predictions, plus the teacher's image scores.

        Args:
            inputs (dict | Tensor): Two views, or the student view alone.
            data_samples (dict | list, optional): Samples per branch.

        Returns:
            list[DataSample]: Student samples with ``pred_score`` (K,) and,
            when the teacher view is given and ``eval_teacher`` is on,
            ``teacher_pred_score`` (K,).
        """
        student_inputs, student_samples = self._branch(inputs, data_samples,
                                                       'student')
        results = self.student.predict(student_inputs, student_samples)
        teacher_inputs, teacher_samples = self._branch(inputs, data_samples,
                                                       'teacher')
        if self.eval_teacher and teacher_inputs is not None:
            scores = self.get_teacher_outputs(teacher_inputs,
                                              teacher_samples)['img_scores']
            for result, score in zip(results, scores):
                result.set_field(score, 'teacher_pred_score')
        return results
