# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmdet.utils import ConfigType
from mmengine.structures import InstanceData
from mmpretrain.structures import DataSample
from torch import Tensor

from mmkdwsd.datasets.predecoded import BATCH_KEY
from mmkdwsd.registry import MODELS
from .nested import NestedDataPreprocessor

PACKS = ('cls', 'det')


def _on_device(element, device: torch.device) -> bool:
    """Whether every tensor of a data element (nested ones too) is on
    ``device``."""
    for value in element.values():
        if isinstance(value, Tensor):
            if value.device != device:
                return False
        elif hasattr(value, 'values') and not _on_device(value, device):
            return False
    return True


class _PackedDetDataSample(DetDataSample):
    """A ``DetDataSample`` built on the model's device.

    mmdet's ``DetDataPreprocessor`` moves every sample to the device, and
    MMEngine's ``BaseDataElement.to`` re-creates a sample (and its
    ``proposals``), deep-copying the metainfo, even when its tensors are
    there already: half the host work of a two-view batch. Moved to the
    device it is on, this sample is returned as it is.
    """

    def to(self, *args, **kwargs) -> DetDataSample:
        target = args[0] if args else kwargs.get('device')
        if isinstance(target, (str, torch.device)):
            target = torch.device(target)
            if target.type == 'cuda' and target.index is None:
                target = torch.device('cuda', torch.cuda.current_device())
            if len(args) <= 1 and _on_device(self, target):
                return self
        return super().to(*args, **kwargs)


def _with_metainfo(sample, meta: dict):
    """``sample`` with ``meta`` as its metainfo, set without the deep copy
    of ``set_metainfo``: the values built here are immutable (strings,
    numbers, booleans, None, tuples), so the copy protects nothing, and it
    was half of the student view's host work per image."""
    for key, value in meta.items():
        sample.set_field(value, key, field_type='metainfo')
    return sample


def _check_view(view: dict) -> dict:
    """Normalise one entry of ``views`` and name what is wrong with it."""
    view = dict(view)
    if view.get('pack') not in PACKS:
        raise ValueError(f'PreDecodedDataPreprocessor: view {view} needs '
                         f"pack='cls' (mmpretrain DataSample) or 'det' "
                         '(DetDataSample with proposals)')
    scales = view.get('scales')
    if not scales:
        raise ValueError(f'PreDecodedDataPreprocessor: view {view} needs '
                         'scales=[(w, h), ...] (one drawn per batch in '
                         'training, the first in testing)')
    view['scales'] = [(s, s) if isinstance(s, int) else tuple(s)
                      for s in scales]
    view.setdefault('branch', None)
    return view


@MODELS.register_module()
class PreDecodedDataPreprocessor(NestedDataPreprocessor):
    """Augment and pack a :class:`~mmkdwsd.datasets.PreDecodedDataset` batch
    on the model's device, then run the wrapped preprocessor.

    A batch of decoded uint8 images (one transfer) is flipped (per image,
    with probability ``flip_prob``, in training), translated (per image, by
    up to ``max_translate_ratio`` of its size each way, the uncovered border
    filled by reflection, in training), resized to each view's
    scale (bilinear, as mmcv's ``Resize``; in training one of ``scales`` is
    drawn per batch, as mmdet's ``BatchSyncRandomResize`` does) and packed
    into the data samples ``mmpretrain.PackInputs`` (``pack='cls'``) or
    :class:`~mmkdwsd.datasets.PackWSODInputs` (``pack='det'``: proposals
    flipped and rescaled with the image) would have built; cached soft
    targets with the flipped view (B, 2, K) keep the row of the view each
    image gets. Images stored at the view's scale (``PreDecodedDataset``'s
    ``cache_scale``) are not resized again; proposals and ``scale_factor``
    always refer to ``ori_shape`` (translated with the image, clipped to
    it). Cached soft targets are kept through a translation: the teacher
    saw the untranslated image, which shows the same objects unless one
    sits at the border. The wrapped
    preprocessor (normalisation, padding) then runs as usual. Batches that
    do not come from a :class:`PreDecodedDataset` (validation loaders with
    the per-image pipeline) go to the wrapped preprocessor unchanged.

    Args:
        preprocessor (dict): The wrapped preprocessor: the model's usual one
            (``mmpretrain.ClsDataPreprocessor``, ``mmdet.DetDataPreprocessor``
            or ``KDDataPreprocessor``, which a distiller fills in).
        views (list[dict]): One entry per view: ``pack`` (``'cls'`` or
            ``'det'``), ``scales`` (list of ``(w, h)`` or ints) and, for a
            two-view preprocessor such as ``KDDataPreprocessor``, ``branch``
            (``'teacher'`` / ``'student'``).
        flip_prob (float): Horizontal flip probability in training.
            Defaults to 0.
        max_translate_ratio (float): Largest translation in training, as a
            fraction of the width (horizontally) and height (vertically) of
            the images as the batch holds them, rounded to whole pixels,
            drawn uniformly per image and axis; 0.0625 moves a 64 px image
            by up to 4 px each way (CIFAR's pad-4-and-crop). In [0, 0.5).
            Defaults to 0 (off).
        batch_augments (dict, optional): Passed to the wrapped
            preprocessor (mmpretrain's ``ImageClassifier`` sets it from its
            ``train_cfg``). Defaults to None.

    .. code:: text

        images (B, H, W, 3) uint8 -> device -> flip -> translate -> per view:
        resize (B, 3, h, w) float + samples -> preprocessor(...)
    """

    def __init__(self,
                 preprocessor: ConfigType,
                 views: Sequence[dict],
                 flip_prob: float = 0.0,
                 max_translate_ratio: float = 0.0,
                 batch_augments: Optional[dict] = None) -> None:
        super().__init__()
        if batch_augments is not None:
            preprocessor = dict(preprocessor, batch_augments=batch_augments)
        self.preprocessor = MODELS.build(preprocessor)
        self.views = [_check_view(v) for v in views]
        branches = [v['branch'] for v in self.views]
        if (None in branches and len(branches) > 1) or len(
                set(branches)) != len(branches):
            raise ValueError(
                'PreDecodedDataPreprocessor: give one view without a '
                f'branch, or views with distinct branches; got {branches}')
        if not 0 <= flip_prob <= 1:
            raise ValueError('PreDecodedDataPreprocessor: flip_prob must be '
                             f'in [0, 1], got {flip_prob}')
        self.flip_prob = flip_prob
        if not 0 <= max_translate_ratio < 0.5:
            raise ValueError('PreDecodedDataPreprocessor: '
                             'max_translate_ratio must be in [0, 0.5), got '
                             f'{max_translate_ratio}')
        self.max_translate_ratio = max_translate_ratio

    def forward(self, data: dict, training: bool = False) -> dict:
        """Augment, pack and preprocess one batch.

        Args:
            data (dict): A :class:`PreDecodedDataset` batch (``images``
                uint8 (B, H, W, 3), ``labels`` (B, K), ...), or any batch
                the wrapped preprocessor takes.
            training (bool): Whether training-time augmentation is on.

        Returns:
            dict: The wrapped preprocessor's output: ``inputs`` (B, 3, h, w)
            and a list of data samples, or dicts of them per branch.
        """
        if not (isinstance(data, dict) and data.get(BATCH_KEY)):
            return self.preprocessor(data, training)
        device = self.device
        images = data['images'].to(device, non_blocking=True)
        images = images.permute(0, 3, 1, 2)  # (B, 3, H, W), a view
        num, height, width = images.shape[0], images.shape[2], images.shape[3]
        # proposals and scale factors refer to the original images, which a
        # dataset with cache_scale stores resized
        ori_h, ori_w = data['metainfo'][0]['ori_shape']
        flip = torch.zeros(num, dtype=torch.bool)
        if training and self.flip_prob > 0:
            flip = torch.rand(num) < self.flip_prob
        flip_list = flip.tolist()
        proposals = counts = None
        if 'proposals' in data:
            proposals = data['proposals'].to(device, non_blocking=True)
            counts = data['num_proposals'].tolist()
        if any(flip_list):
            mask = flip.to(device)
            images = torch.where(mask[:, None, None, None], images.flip(-1),
                                 images)
            if proposals is not None:
                mirrored = torch.stack([
                    ori_w - proposals[..., 2], proposals[..., 1],
                    ori_w - proposals[..., 0], proposals[..., 3]
                ], -1)
                proposals = torch.where(mask[:, None, None], mirrored,
                                        proposals)
        labels = self._split_labels(data['labels'], device)
        ignore = self._split_labels(data['ignore'], device)
        scores = data['labels'].to(device, non_blocking=True).float()
        soft = data.get('soft_targets')
        if soft is not None:
            soft = soft.to(device, non_blocking=True)
            if soft.dim() == 3:  # (B, 2, K): the original and flipped view
                soft = torch.where(
                    flip.to(device)[:, None], soft[:, 1], soft[:, 0]) \
                    if any(flip_list) else soft[:, 0]
        images = images.float()
        if training and self.max_translate_ratio > 0:
            images, shift = self._translate(images)
            if proposals is not None:
                scale = proposals.new_tensor([ori_w / width, ori_h / height])
                shift = (shift.to(proposals) * scale).repeat(1, 2)
                bound = proposals.new_tensor([ori_w, ori_h, ori_w, ori_h])
                proposals = torch.minimum(
                    (proposals + shift[:, None]).clamp(min=0), bound)
        inputs, samples = {}, {}
        for view in self.views:
            w, h = self._draw_scale(view['scales'], training)
            if (height, width) != (ori_h, ori_w) and (h > height
                                                      or w > width):
                raise ValueError(
                    f'PreDecodedDataPreprocessor: view {view} asks for '
                    f'{w}x{h} (w x h) but the batch holds images stored at '
                    f'{width}x{height} (PreDecodedDataset cache_scale; the '
                    f'originals are {ori_w}x{ori_h}): set cache_scale to '
                    'the largest view scale or leave it unset')
            view_inputs = images if (h, w) == (height, width) else \
                F.interpolate(images, size=(h, w), mode='bilinear',
                              align_corners=False)
            factor = (w / ori_w, h / ori_h)
            metas = [
                dict(
                    meta,
                    img_shape=(h, w),
                    scale_factor=factor,
                    flip=flipped,
                    flip_direction='horizontal' if flipped else None)
                for meta, flipped in zip(data['metainfo'], flip_list)
            ]
            if view['pack'] == 'cls':
                view_samples = self._pack_cls(metas, labels, scores, soft)
            else:
                view_samples = self._pack_det(metas, labels, ignore, proposals,
                                              counts, factor)
            inputs[view['branch']] = view_inputs
            samples[view['branch']] = view_samples
        if None in inputs:
            return self.preprocessor(
                dict(inputs=inputs[None], data_samples=samples[None]),
                training)
        return self.preprocessor(
            dict(inputs=inputs, data_samples=samples), training)

    def _translate(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        """Move each image by its own random whole-pixel offset.

        Args:
            images (Tensor): (B, 3, H, W) float.

        Returns:
            tuple[Tensor, Tensor]: The moved images (B, 3, H, W), the
            border they uncover filled by reflection, and each image's
            offset (B, 2) as (dx, dy) in pixels (positive: right, down).
        """
        num, _, height, width = images.shape
        pad_x = round(self.max_translate_ratio * width)
        pad_y = round(self.max_translate_ratio * height)
        device = images.device
        # where each image's window starts in the padded batch; the content
        # moves by pad - start
        start_x = torch.randint(0, 2 * pad_x + 1, (num, ), device=device)
        start_y = torch.randint(0, 2 * pad_y + 1, (num, ), device=device)
        padded = F.pad(images, (pad_x, pad_x, pad_y, pad_y), mode='reflect')
        rows = start_y[:, None] + torch.arange(height, device=device)
        cols = start_x[:, None] + torch.arange(width, device=device)
        moved = padded[torch.arange(num, device=device)[:, None, None, None],
                       torch.arange(3, device=device)[None, :, None, None],
                       rows[:, None, :, None], cols[:, None, None, :]]
        shift = torch.stack([pad_x - start_x, pad_y - start_y], 1)
        return moved, shift

    @staticmethod
    def _draw_scale(scales: List[Tuple[int, int]],
                    training: bool) -> Tuple[int, int]:
        if not training or len(scales) == 1:
            return scales[0]
        return scales[int(torch.randint(len(scales), ()))]

    @staticmethod
    def _split_labels(multi_hot: Tensor, device) -> List[Tensor]:
        """Class indices per image: LongTensor views on ``device``."""
        rows, cols = multi_hot.nonzero(as_tuple=True)
        counts = torch.bincount(rows, minlength=len(multi_hot)).tolist()
        return list(cols.to(device, non_blocking=True).split(counts))

    @staticmethod
    def _pack_cls(metas: List[dict], labels: List[Tensor], scores: Tensor,
                  soft: Optional[Tensor]) -> List[DataSample]:
        samples = []
        for i, meta in enumerate(metas):
            sample = _with_metainfo(DataSample(), meta)
            sample.gt_label = labels[i]
            # the multi-hot target the mmpretrain head would build from
            # gt_label; with it the head stacks one view per image
            sample.gt_score = scores[i]
            if soft is not None:
                sample.soft_target = soft[i]
            samples.append(sample)
        return samples

    @staticmethod
    def _pack_det(metas: List[dict], labels: List[Tensor],
                  ignore: List[Tensor], proposals: Optional[Tensor],
                  counts: Optional[List[int]],
                  factor: Tuple[float, float]) -> List[DetDataSample]:
        if proposals is None:
            raise KeyError(
                "PreDecodedDataPreprocessor: a pack='det' view needs "
                'proposals; set proposal_file in the dataset that '
                'PreDecodedDataset wraps')
        h, w = metas[0]['img_shape']
        scale = proposals.new_tensor([factor[0], factor[1]] * 2)
        bound = proposals.new_tensor([w, h, w, h])
        boxes = torch.minimum((proposals * scale).clamp_(min=0), bound)
        ones = boxes.new_ones(boxes.shape[1])
        samples = []
        for i, meta in enumerate(metas):
            sample = _with_metainfo(_PackedDetDataSample(), meta)
            sample.proposals = InstanceData(
                bboxes=boxes[i, :counts[i]], scores=ones[:counts[i]])
            sample.gt_label = labels[i]
            sample.gt_label_ignore = ignore[i]
            samples.append(sample)
        return samples
