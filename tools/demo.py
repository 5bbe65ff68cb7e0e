# Copyright (c) mmkdwsd authors. All rights reserved.
"""Demo on one image: the student's labels, and the teacher's boxes.

The student (a standalone mmpretrain config, e.g. from
``tools/export_student.py``, or a baseline student config) prints the
classes scoring at least ``--thr``. With a teacher (a WSDDN config and
checkpoint) the demo also draws, with mmdet's ``DetLocalVisualizer``, the
teacher's top-scoring box(es) for each class the student predicts, and saves
the picture to ``--out-file``. WSDDN needs region proposals: they come from
``--proposal-file`` (a project proposal pickle holding the image) or are
computed on the image (``--proposal-method``, see
``mmkdwsd/datasets/proposal_methods.py``).

Example::

    python tools/demo.py data/multidigits_small/test/000000.png \
        --student-config work_dirs/demo/export/student_config.py \
        --student-ckpt work_dirs/demo/export/student.pth \
        --teacher-config configs/wsddn/CONFIG.py \
        --teacher-ckpt work_dirs/demo/teacher/epoch_N.pth \
        --out-file docs/demo_multidigits.png
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

# Image loading steps the demo replaces, and evaluation-only steps it drops.
LOAD_TRANSFORMS = ('LoadImageFromFile', 'LoadImageSafe')
DROP_TRANSFORMS = ('LoadAnnotations', 'LoadImageLabels')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Student labels and teacher boxes on one image')
    parser.add_argument('img', help='image file')
    parser.add_argument('--student-config', required=True)
    parser.add_argument('--student-ckpt', required=True)
    parser.add_argument('--teacher-config', help='WSDDN config')
    parser.add_argument('--teacher-ckpt', help='WSDDN checkpoint')
    parser.add_argument(
        '--out-file', help='picture of the teacher boxes (with a teacher)')
    parser.add_argument(
        '--thr',
        type=float,
        default=0.5,
        help='student score threshold of a predicted class (default: 0.5)')
    parser.add_argument(
        '--boxes-per-class',
        type=int,
        default=1,
        help='teacher boxes drawn per predicted class (default: 1)')
    parser.add_argument(
        '--proposal-file', help='proposal pickle holding this image')
    parser.add_argument(
        '--proposal-method',
        default='auto',
        choices=['auto', 'ss', 'windows'],
        help='proposals computed on the image when no --proposal-file '
        'holds it; auto: ss if opencv-contrib is installed, else windows')
    parser.add_argument(
        '--num-proposals',
        type=int,
        default=500,
        help='proposals kept per image (default: 500)')
    parser.add_argument(
        '--proposal-min-size',
        type=float,
        default=16.0,
        help='computed proposals smaller than this (px) are dropped; '
        'MultiDigits uses 16 (tools/run_pipeline.py; default: 16)')
    parser.add_argument(
        '--min-side',
        type=int,
        default=320,
        help='the picture is enlarged to at least this shorter side')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if (args.teacher_config is None) != (args.teacher_ckpt is None):
        parser.error('--teacher-config and --teacher-ckpt go together')
    if args.teacher_config and not args.out_file:
        parser.error('--out-file is needed with a teacher')
    return args


def student_predict(config: str,
                    checkpoint: str,
                    img: str,
                    thr: float,
                    device: str = 'cpu'
                    ) -> Tuple[List[Tuple[int, str, float]], list]:
    """Classes scoring >= thr, best first, with mmpretrain's inferencer.

    Args:
        config (str): Student config with a test pipeline.
        checkpoint (str): Student checkpoint.
        img (str): Image file.
        thr (float): Score threshold.
        device (str): Device. Defaults to 'cpu'.

    Returns:
        tuple: ``[(label, name, score), ...]`` and the class names.
    """
    from mmengine.registry import DefaultScope
    from mmpretrain.apis import ImageClassificationInferencer

    # The inferencer builds its pipeline in the current default scope; a
    # standalone student is an mmpretrain model.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        inferencer = ImageClassificationInferencer(
            config, pretrained=checkpoint, device=device)
        sample = inferencer(img, return_datasamples=True)[0]
    scores = sample.pred_score.detach().cpu().float()
    classes = list(inferencer.classes or [str(i) for i in range(len(scores))])
    labels = torch.nonzero(scores >= thr).flatten().tolist()
    labels.sort(key=lambda i: -float(scores[i]))
    return [(i, str(classes[i]), float(scores[i])) for i in labels], classes


def get_proposals(img_path: str, image: np.ndarray,
                  args: argparse.Namespace) -> Tuple[np.ndarray, np.ndarray]:
    """Proposals of the image: from the pickle, or computed on it."""
    if args.proposal_file:
        from mmkdwsd.datasets.proposals import load_proposal_file, proposal_key
        key = proposal_key(img_path)
        proposals = load_proposal_file(args.proposal_file)
        if key not in proposals:
            raise KeyError(f'{args.proposal_file} has no proposals for '
                           f'"{key}"; omit --proposal-file to compute them')
        item = proposals[key]
        bboxes = np.asarray(item['bboxes'], np.float32)[:args.num_proposals]
        scores = item.get('scores')
        scores = np.ones(len(bboxes), np.float32) if scores is None else \
            np.asarray(scores, np.float32)[:args.num_proposals]
        return bboxes, scores
    import cv2

    from mmkdwsd.datasets.proposal_methods import METHODS
    method = args.proposal_method
    if method == 'auto':
        method = 'ss' if hasattr(cv2, 'ximgproc') else 'windows'
    return METHODS[method](
        image, topk=args.num_proposals, min_size=args.proposal_min_size)


def teacher_predict(config: str, checkpoint: str, img_path: str,
                    args: argparse.Namespace):
    """Run WSDDN on the image with its proposals.

    Returns:
        :obj:`DetDataSample`: With ``pred_instances`` (image pixels) and
        ``pred_score`` (K,).
    """
    import mmcv
    from mmdet.apis import init_detector
    from mmengine.dataset import Compose, pseudo_collate

    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    model = init_detector(config, checkpoint, device=args.device)
    # Keep boxes of every class: the demo picks the classes, not NMS limits.
    test_cfg = getattr(getattr(model, 'roi_head', None), 'test_cfg', None)
    if test_cfg is not None:
        if 'score_thr' in test_cfg:
            test_cfg['score_thr'] = 0.0
        if 'max_per_img' in test_cfg:
            num_classes = getattr(model.roi_head.bbox_head, 'num_classes', 1)
            test_cfg['max_per_img'] = max(test_cfg['max_per_img'],
                                          args.num_proposals * num_classes)
    steps = [dict(type='mmcv.LoadImageFromFile')]
    for step in copy.deepcopy(
            list(model.cfg.test_dataloader.dataset.pipeline)):
        name = str(step['type']).split('.')[-1]
        if name not in LOAD_TRANSFORMS + DROP_TRANSFORMS:
            steps.append(step)
    image = mmcv.imread(img_path)
    bboxes, scores = get_proposals(img_path, image, args)
    data = Compose(steps)(
        dict(
            img_path=img_path,
            img_id=0,
            proposals=dict(bboxes=bboxes, scores=scores)))
    with torch.no_grad():
        return model.test_step(pseudo_collate([data]))[0]


def draw_teacher_boxes(img_path: str,
                       sample,
                       preds,
                       classes,
                       out_file: str,
                       boxes_per_class: int = 1,
                       min_side: int = 320) -> int:
    """Draw the teacher's top boxes of each predicted class.

    Returns:
        int: Number of boxes drawn.
    """
    import mmcv
    from mmdet.structures import DetDataSample
    from mmdet.visualization import DetLocalVisualizer
    from mmengine.structures import InstanceData

    inst = sample.pred_instances
    keep = []
    for label, name, _ in preds:
        idx = torch.nonzero(inst.labels == label).flatten()
        idx = idx[inst.scores[idx].argsort(descending=True)]
        keep += idx[:boxes_per_class].tolist()
        if len(idx) == 0:
            print(f'  teacher: no box of {name}')
    image = mmcv.imread(img_path, channel_order='rgb')
    scale = max(1.0, min_side / min(image.shape[:2]))
    image = mmcv.imrescale(image, scale, interpolation='nearest')
    keep = torch.as_tensor(keep, dtype=torch.long)
    boxes = InstanceData(
        bboxes=inst.bboxes[keep].float() * scale,
        scores=inst.scores[keep],
        labels=inst.labels[keep])
    visualizer = DetLocalVisualizer(name=f'demo_{os.getpid()}')
    visualizer.dataset_meta = dict(classes=list(classes), palette='random')
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    visualizer.add_datasample(
        'teacher',
        image,
        DetDataSample(pred_instances=boxes),
        draw_gt=False,
        out_file=out_file,
        pred_score_thr=0.0)
    return len(keep)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.img):
        raise FileNotFoundError(f'image "{args.img}" does not exist')
    preds, classes = student_predict(args.student_config, args.student_ckpt,
                                     args.img, args.thr, args.device)
    print(f'student: {len(preds)} classes with score >= {args.thr} '
          f'in {args.img}')
    for _, name, score in preds:
        print(f'  {name}: {score:.4f}')
    if args.teacher_config is None:
        return 0
    sample = teacher_predict(args.teacher_config, args.teacher_ckpt, args.img,
                             args)
    img_scores = sample.pred_score.cpu()
    # teacher and student share the label space (docs/design.md)
    if len(img_scores) != len(classes):
        raise ValueError(f'the teacher scores {len(img_scores)} classes, '
                         f'the student {len(classes)}')
    for label, name, _ in preds:
        print(f'  teacher image score of {name}: '
              f'{float(img_scores[label]):.4f}')
    num = draw_teacher_boxes(args.img, sample, preds, classes, args.out_file,
                             args.boxes_per_class, args.min_side)
    print(f'teacher: {num} boxes drawn to {args.out_file}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
