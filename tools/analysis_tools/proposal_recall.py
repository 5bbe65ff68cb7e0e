# Copyright (c) mmkdwsd authors. All rights reserved.
"""How well proposal files can localise: the ceiling of a weakly-supervised
teacher's CorLoc, before any teacher is trained.

For every true box of a COCO-format annotation file, the best IoU of the
image's proposals (those of at least ``--min-size`` px a side, the first
``--topk`` of each image) is taken; the table gives, per proposal file, the
proposals per image, the share of true boxes that some proposal covers at
IoU >= 0.5 (CorLoc's rule: a teacher whose top box is always the best
proposal reaches it) and >= 0.7, and the mean best IoU.

    python tools/analysis_tools/proposal_recall.py \\
        data/md_large_4000_1000/annotations/instances_val.json \\
        data/md_large_4000_1000/proposals/windows_val.pkl \\
        data/md_large_4000_1000/proposals/ss_val.pkl
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mmkdwsd.datasets.proposals import load_proposal_file  # noqa: E402
from mmkdwsd.datasets.proposals import proposal_key  # noqa: E402
from mmkdwsd.evaluation.metrics.wsod_metric import _iou  # noqa: E402


def true_boxes(ann_file: str, img_dir: str = '') -> Dict[str, np.ndarray]:
    """Proposal key -> true boxes (n, 4) xyxy of an annotation file.

    Args:
        ann_file (str): COCO-format annotation file.
        img_dir (str): The folder of its images (only its name counts,
            as in the proposal files' keys). Defaults to the split of
            ``instances_<split>.json``.
    """
    with open(ann_file, encoding='utf-8') as f:
        coco = json.load(f)
    if not img_dir:
        img_dir = osp.splitext(osp.basename(ann_file))[0].split('_')[-1]
    names = {img['id']: img['file_name'] for img in coco['images']}
    boxes: Dict[int, list] = {i: [] for i in names}
    for ann in coco['annotations']:
        if ann.get('iscrowd', 0):
            continue
        x, y, w, h = ann['bbox']
        boxes[ann['image_id']].append([x, y, x + w, y + h])
    return {
        proposal_key(osp.join(img_dir, names[i])):
        np.asarray(b, dtype=np.float32).reshape(-1, 4)
        for i, b in boxes.items()
    }


def recall_stats(truths: Dict[str, np.ndarray], proposals: Dict[str, dict],
                 path: str, min_size: float = 0.0,
                 topk: int = 0) -> Dict[str, float]:
    """Recall of the true boxes by one proposal file.

    Args:
        truths (dict): Proposal key -> true boxes (n, 4), from
            :func:`true_boxes`.
        proposals (dict): A loaded proposal file (key -> ``bboxes``).
        path (str): The proposal file's path, for errors.
        min_size (float): Drop proposals with a side under this. Defaults
            to 0.
        topk (int): Keep each image's first ``topk`` proposals (after the
            size filter); 0 keeps all. Defaults to 0.

    Returns:
        dict: ``images``, ``boxes``, ``per_image`` (mean proposals),
        ``recall50``, ``recall70`` (shares in [0, 1]) and ``mean_iou``.
    """
    best: List[float] = []
    counts = []
    for key, gt in truths.items():
        if key not in proposals:
            raise KeyError(f'{path}: no proposals for image {key!r} of the '
                           'annotation file; is it the same split?')
        boxes = np.asarray(proposals[key]['bboxes'],
                           dtype=np.float32).reshape(-1, 4)
        keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & (
            (boxes[:, 3] - boxes[:, 1]) >= min_size)
        boxes = boxes[keep]
        if topk:
            boxes = boxes[:topk]
        counts.append(len(boxes))
        for box in gt:
            best.append(float(_iou(box, boxes).max()) if len(boxes) else 0.)
    best_arr = np.asarray(best, dtype=np.float64)
    if not len(best_arr):
        raise ValueError(f'{path}: the annotation file has no true boxes')
    return dict(
        images=len(truths),
        boxes=len(best_arr),
        per_image=float(np.mean(counts)),
        recall50=float((best_arr >= 0.5).mean()),
        recall70=float((best_arr >= 0.7).mean()),
        mean_iou=float(best_arr.mean()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ann_file', help='COCO-format annotation file')
    parser.add_argument('proposal_files', nargs='+')
    parser.add_argument('--img-dir', default='',
                        help='the images\' folder (default: the split of '
                        'instances_<split>.json)')
    parser.add_argument('--min-size', type=float, default=0.0,
                        help='drop proposals with a side under this (px)')
    parser.add_argument('--topk', type=int, default=0,
                        help='keep the first TOPK proposals of an image')
    args = parser.parse_args(argv)
    if not osp.isfile(args.ann_file):
        sys.exit(f'{args.ann_file}: no such annotation file')
    truths = true_boxes(args.ann_file, args.img_dir)
    print('| proposals | images | true boxes | proposals / image | '
          'recall@0.5 | recall@0.7 | mean best IoU |')
    print('|---|---|---|---|---|---|---|')
    for path in args.proposal_files:
        s = recall_stats(truths, load_proposal_file(path), path,
                         args.min_size, args.topk)
        print(f'| {path} | {s["images"]} | {s["boxes"]} | '
              f'{s["per_image"]:.1f} | {100 * s["recall50"]:.1f}% | '
              f'{100 * s["recall70"]:.1f}% | {s["mean_iou"]:.3f} |')


if __name__ == '__main__':
    main()
