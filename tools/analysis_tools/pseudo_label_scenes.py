# Copyright (c) mmkdwsd authors. All rights reserved.
"""Turn extra, unlabelled scenes into a teacher-labelled transfer set.

The benchmark's student is short of training scenes, not of capacity
(docs/benchmarks.md section 1, "What the gain is made of", More scenes), and a
teacher can label scenes nobody annotated. This writes a COCO instances json of
a larger split whose first scenes keep their annotations (the labelled split
the teacher and the baseline trained on) and whose other scenes carry the
teacher's image-level pseudo-labels instead: one annotation per class whose
cached soft target ``p'`` (``tools/cache_soft_targets.py`` over the larger
split) reaches ``--threshold``, with the whole image as its box (the student
reads only the image-level labels). The student then trains on it as usual, the
soft targets beside the labels. Since the extra scenes are generated, their
true labels are known: the tool prints how well the pseudo-labels match them
(never used for training).

``--mask-ann FILE`` names what else is known of a scene: an instances json of
the same split whose annotations list, per scene, the only classes it can
hold. For mosaics of the labelled scenes (``mosaic_scenes.py``) that is the
union of their four sources' image-level labels (``--union-labels``): a
mosaic shows only classes its sources have, so a teacher's score for any
other class is an error, set to ``p' = 0`` before thresholding. The masked
soft targets go to ``--soft-out`` (the labelled scenes' unchanged), for the
student to train on beside the pseudo-labels.

Example::

    python tools/analysis_tools/pseudo_label_scenes.py \\
        data/multidigits_large_train40000/annotations/instances_train.json \\
        data/multidigits_large/annotations/instances_train.json \\
        data/multidigits_large_train40000/train SOFT_TARGETS.pkl \\
        --out data/multidigits_large_train40000/annotations/pseudo_train.json
"""
import argparse
import json
import os.path as osp
import sys
from collections import defaultdict
from typing import List, Optional, Sequence

import numpy as np


def _threshold(value: str):
    if value == 'auto':
        return value
    try:
        threshold = float(value)
    except ValueError:
        threshold = None
    if threshold is None or not 0 < threshold <= 1:
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or a number in (0, 1], got {value!r}")
    return threshold


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pseudo-label the scenes outside a labelled split')
    parser.add_argument('ann_file', help='instances json of the larger split')
    parser.add_argument('labelled_ann_file',
                        help='instances json of the labelled split (its '
                        'scenes, by file name, keep their annotations)')
    parser.add_argument('img_dir', help='image folder of the larger split')
    parser.add_argument('soft_target_file',
                        help='soft targets of every scene of the larger split')
    parser.add_argument('--out', required=True, help='output json')
    parser.add_argument(
        '--threshold', default='auto', type=_threshold,
        help="a class is present where p' >= this; 'auto' (default): the "
        'threshold of 0.05, 0.10, ..., 0.95 with the best F1 (over all '
        'classes) on the labelled scenes')
    parser.add_argument(
        '--mask-ann', metavar='FILE',
        help='instances json of the same split: a pseudo-labelled scene '
        'can hold only the classes it annotates there (e.g. mosaic_scenes.py '
        "--union-labels); the teacher's other scores are set to 0")
    parser.add_argument(
        '--soft-out', metavar='FILE',
        help='with --mask-ann (required there): where to write the masked '
        'soft targets')
    args = parser.parse_args(argv)
    if (args.mask_ann is None) != (args.soft_out is None):
        parser.error('--mask-ann and --soft-out go together: the student '
                     'must train on the soft targets the pseudo-labels '
                     'were made from')
    if args.soft_out is not None and osp.abspath(
            args.soft_out) == osp.abspath(args.soft_target_file):
        parser.error(f'--soft-out {args.soft_out} is the soft-target file '
                     'it masks; give another path, so that the unmasked '
                     'targets are kept')
    return args


def allowed_classes(mask_ann_file: str, file_names: List[str],
                    cat_ids: List[int]) -> np.ndarray:
    """The classes each scene can hold, by a json of the same split.

    Args:
        mask_ann_file (str): Instances json whose annotations list, per
            scene (matched by file name), the classes it can hold.
        file_names (list[str]): The scenes to look up.
        cat_ids (list[int]): The split's category ids, in class order.

    Returns:
        np.ndarray: True where a scene can hold a class, bool (N, K).
    """
    with open(mask_ann_file, encoding='utf-8') as f:
        data = json.load(f)
    ids = sorted(c['id'] for c in data.get('categories', []))
    if ids != cat_ids:
        raise ValueError(f'{mask_ann_file}: category ids {ids}, expected '
                         f"the split's {cat_ids}")
    by_name = {img['file_name']: img['id'] for img in data['images']}
    missing = [name for name in file_names if name not in by_name]
    if missing:
        raise ValueError(
            f'{mask_ann_file}: {len(missing)} of the scenes to pseudo-label '
            f'are not in it, e.g. {missing[0]}; expected a json of the same '
            'split')
    classes = defaultdict(set)
    for ann in data.get('annotations', []):
        classes[ann['image_id']].add(ann['category_id'])
    column = {cat: k for k, cat in enumerate(cat_ids)}
    allowed = np.zeros((len(file_names), len(cat_ids)), bool)
    for row, name in zip(allowed, file_names):
        row[[column[cat] for cat in classes[by_name[name]]]] = True
    return allowed


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold of 0.05, 0.10, ..., 0.95 with the best F1 over all
    (image, class) pairs.

    Args:
        scores (np.ndarray): Soft targets, (N, K).
        labels (np.ndarray): 1 where the class is present, (N, K).

    Returns:
        float: The threshold (the lowest of equals).
    """
    truth = labels.astype(bool)
    best, best_f1 = 0.5, -1.0
    for t in np.round(np.arange(0.05, 0.951, 0.05), 2):
        present = scores >= t
        tp = (present & truth).sum()
        f1 = 2 * tp / max(present.sum() + truth.sum(), 1)
        if f1 > best_f1:
            best, best_f1 = float(t), f1
    return best


def pseudo_label(ann_file: str, labelled_ann_file: str, img_dir: str,
                 soft_target_file: str, threshold='auto',
                 mask_ann_file: Optional[str] = None):
    """Replace the annotations of the scenes outside the labelled split.

    Args:
        ann_file (str): Instances json of the larger split.
        labelled_ann_file (str): Instances json of the labelled split.
        img_dir (str): Image folder of the larger split.
        soft_target_file (str): Soft targets of every scene of the larger
            split (each scene missing from it is named).
        threshold (float | str): A class is present where
            ``p' >= threshold``; ``'auto'``: :func:`best_threshold` on the
            labelled scenes.
        mask_ann_file (str, optional): See :func:`allowed_classes`: the
            pseudo-labelled scenes' scores of classes they cannot hold are
            set to 0 first.

    Returns:
        tuple: The new json (dict); statistics of the pseudo-labels against
        the true labels of the unlabelled scenes (dict: ``threshold``,
        ``labelled``, ``pseudo``, ``precision``, ``recall``, ``exact``:
        share of scenes whose label set is right, ``masked``: pseudo-labels
        the mask removed); and, with ``mask_ann_file``, the soft-target
        file content to write (dict: ``meta`` with ``mask_ann_file`` and
        ``unmasked_file`` added, ``targets``: key -> (K, ) float32, the
        pseudo-labelled scenes' masked), else None.
    """
    from mmkdwsd.datasets.soft_targets import (attach_soft_targets,
                                               load_soft_target_file,
                                               soft_target_key)
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from soft_target_stats import labelled_images
    with open(ann_file, encoding='utf-8') as f:
        data = json.load(f)
    with open(labelled_ann_file, encoding='utf-8') as f:
        keep = {img['file_name'] for img in json.load(f)['images']}
    missing = keep - {img['file_name'] for img in data['images']}
    if missing:
        raise ValueError(
            f'{labelled_ann_file}: {len(missing)} of its scenes are not in '
            f'{ann_file}, e.g. {sorted(missing)[0]}; the larger split must '
            'contain the labelled one')
    data_list, labels = labelled_images(ann_file, img_dir)
    content = load_soft_target_file(soft_target_file)  # read once
    attach_soft_targets(data_list, soft_target_file, labels.shape[1],
                        content)
    by_id = {img['id']: img for img in data['images']}
    in_keep = np.array(
        [by_id[info['img_id']]['file_name'] in keep for info in data_list])
    scores = np.stack([info['soft_target'] for info in data_list])
    if threshold == 'auto':
        if not in_keep.any():
            raise ValueError(
                f'--threshold auto picks the threshold on the labelled '
                f'scenes, and {labelled_ann_file} has none; give a number')
        threshold = best_threshold(scores[in_keep], labels[in_keep])
    threshold = float(threshold)
    cat_ids = [c['id'] for c in sorted(data['categories'],
                                       key=lambda c: c['id'])]
    masked, soft = 0, None
    if mask_ann_file is not None:
        rows = np.flatnonzero(~in_keep)
        allowed = allowed_classes(
            mask_ann_file,
            [by_id[data_list[i]['img_id']]['file_name'] for i in rows],
            cat_ids)
        masked = int(((scores[rows] >= threshold) & ~allowed).sum())
        scores[rows] *= allowed
        meta = dict(content['meta'],
                    mask_ann_file=osp.abspath(mask_ann_file),
                    unmasked_file=osp.abspath(soft_target_file))
        soft = dict(meta=meta, targets=dict(content['targets']))
        soft['targets'].update(
            (soft_target_key(data_list[i]['img_path']), scores[i])
            for i in rows)
    next_id = max((a['id'] for a in data['annotations']), default=0) + 1
    truth, present, pseudo = labels.astype(bool), scores >= threshold, ~in_keep
    pseudo_ids = set()
    annotations = []
    for info, row in zip([d for d, p in zip(data_list, pseudo) if p],
                         present[pseudo]):
        pseudo_ids.add(info['img_id'])
        w, h = info['width'], info['height']
        for k in np.flatnonzero(row):
            annotations.append(
                dict(id=next_id, image_id=info['img_id'],
                     category_id=cat_ids[k], bbox=[0, 0, w, h], area=w * h,
                     iscrowd=0))
            next_id += 1
    tp = int((present & truth)[pseudo].sum())
    fp = int((present & ~truth)[pseudo].sum())
    fn = int((~present & truth)[pseudo].sum())
    exact = int((present == truth)[pseudo].all(1).sum())
    data['annotations'] = [
        a for a in data['annotations'] if a['image_id'] not in pseudo_ids
    ] + annotations
    data.setdefault('info', {})['pseudo_labels'] = dict(
        labelled_ann_file=osp.abspath(labelled_ann_file),
        soft_target_file=osp.abspath(soft_target_file),
        threshold=threshold,
        pseudo_labelled_images=len(pseudo_ids))
    if mask_ann_file is not None:
        data['info']['pseudo_labels']['mask_ann_file'] = osp.abspath(
            mask_ann_file)
    n = len(pseudo_ids)
    stats = dict(
        threshold=threshold,
        labelled=len(data_list) - n,
        pseudo=n,
        precision=tp / max(tp + fp, 1),
        recall=tp / max(tp + fn, 1),
        exact=exact / max(n, 1),
        masked=masked)
    return data, stats, soft


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    from mmkdwsd.utils.fileio import atomic_dump_json, atomic_dump_pickle
    data, stats, soft = pseudo_label(args.ann_file, args.labelled_ann_file,
                                     args.img_dir, args.soft_target_file,
                                     args.threshold, args.mask_ann)
    if soft is not None:  # before the json, which marks the step done
        atomic_dump_pickle(soft, args.soft_out)
        print(f'{args.soft_out}: the soft targets, the classes '
              f'{args.mask_ann} excludes set to 0 on the '
              f'{stats["pseudo"]} pseudo-labelled scenes (removing '
              f'{stats["masked"]} pseudo-labels)')
    atomic_dump_json(data, args.out)
    print(f'{args.out}: {stats["labelled"]} scenes keep their labels, '
          f'{stats["pseudo"]} carry pseudo-labels (p\' >= '
          f'{stats["threshold"]:g}); '
          'against their true labels: precision '
          f'{100 * stats["precision"]:.1f}%, recall '
          f'{100 * stats["recall"]:.1f}%, whole label set right on '
          f'{100 * stats["exact"]:.1f}% of the scenes')


if __name__ == '__main__':
    main()
