# Copyright (c) mmkdwsd authors. All rights reserved.
"""What a weakly-supervised teacher's top box per class is, against the true
boxes: the localisation behind CorLoc, from `tools/test.py --out` dumps.

For every (image, present class) the top-scoring predicted box of that
class is compared with the true boxes of the class (the one it overlaps
most): a hit (IoU >= 0.5, CorLoc's rule), or a miss that holds the object
(the box covers >= 90% of the true box: too large), lies inside it (the
true box covers >= 90% of the predicted one: a part), or neither
(elsewhere); no box of the class at all counts as elsewhere. Also the
median area of the top box over the true box's.

    python tools/analysis_tools/top_box_report.py A.pkl B.pkl --names A B

(each pickle from ``tools/test.py CONFIG CKPT --out A.pkl`` with a teacher
config whose test pipeline loads the true boxes).
"""
import argparse
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mmkdwsd.evaluation.metrics.multilabel_paper_metric import \
    _to_numpy  # noqa: E402
from mmkdwsd.evaluation.metrics.wsod_metric import _iou  # noqa: E402

COVER = 0.9


def _area(boxes: np.ndarray) -> np.ndarray:
    return (np.clip(boxes[..., 2] - boxes[..., 0], 0, None) *
            np.clip(boxes[..., 3] - boxes[..., 1], 0, None))


def top_box_stats(samples: list, path: str) -> dict:
    """Counts and ratios of the top boxes of ``samples`` (dumped dicts)."""
    counts = dict(pairs=0, hit=0, larger=0, part=0, elsewhere=0)
    ratios = []
    for i, sample in enumerate(samples):
        if 'gt_instances' not in sample or 'pred_instances' not in sample:
            raise KeyError(
                f'{path}: sample {i} has no pred_instances / gt_instances; '
                'dump it with tools/test.py --out from a teacher config whose '
                'test pipeline loads the true boxes')
        pred, gt = sample['pred_instances'], sample['gt_instances']
        boxes = _to_numpy(pred['bboxes']).reshape(-1, 4)
        scores = _to_numpy(pred['scores']).reshape(-1)
        labels = _to_numpy(pred['labels']).reshape(-1)
        gt_boxes = _to_numpy(gt['bboxes']).reshape(-1, 4)
        gt_labels = _to_numpy(gt['labels']).reshape(-1)
        for c in np.unique(gt_labels):
            counts['pairs'] += 1
            mine = np.flatnonzero(labels == c)
            if not len(mine):
                counts['elsewhere'] += 1
                continue
            top = boxes[mine[scores[mine].argmax()]]
            truths = gt_boxes[gt_labels == c]
            ious = _iou(top, truths)
            truth = truths[ious.argmax()]
            ratios.append(_area(top) / max(_area(truth), 1e-6))
            inter = np.concatenate(
                [np.maximum(top[:2], truth[:2]),
                 np.minimum(top[2:], truth[2:])])
            inter = _area(inter)
            if ious.max() >= 0.5:
                counts['hit'] += 1
            elif inter >= COVER * _area(truth):
                counts['larger'] += 1
            elif inter >= COVER * _area(top):
                counts['part'] += 1
            else:
                counts['elsewhere'] += 1
    counts['median_area_ratio'] = float(np.median(ratios)) if ratios \
        else float('nan')
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('dumps', nargs='+', help='tools/test.py --out pickles')
    parser.add_argument('--names', nargs='+', help='row names (default: the '
                        'file names)')
    args = parser.parse_args(argv)
    import mmengine
    names = args.names or [osp.basename(p) for p in args.dumps]
    if len(names) != len(args.dumps):
        parser.error(f'{len(names)} --names for {len(args.dumps)} dumps')
    print('| top box per (image, class) | pairs | hit (IoU >= 0.5) | '
          'too large | a part | elsewhere | median area / true area |')
    print('|---|---|---|---|---|---|---|')
    for name, path in zip(names, args.dumps):
        if not osp.isfile(path):
            raise FileNotFoundError(f'no prediction dump {path}: write it '
                                    'with tools/test.py CONFIG CKPT --out')
        s = top_box_stats(mmengine.load(path), path)
        share = {k: f'{100 * s[k] / max(s["pairs"], 1):.1f}%'
                 for k in ('hit', 'larger', 'part', 'elsewhere')}
        print(f'| {name} | {s["pairs"]} | {share["hit"]} | '
              f'{share["larger"]} | {share["part"]} | {share["elsewhere"]} '
              f'| {s["median_area_ratio"]:.2f} |')


if __name__ == '__main__':
    main()
