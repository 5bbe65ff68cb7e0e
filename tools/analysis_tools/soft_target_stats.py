# Copyright (c) mmkdwsd authors. All rights reserved.
"""How much a teacher's cached soft targets say beyond the labels.

Prediction-level distillation trains the student on the teacher's
image-level soft targets ``p'`` beside the labels ``y``. Where the teacher
is nearly perfect on the training images, ``p'`` is nearly ``y`` and the
extra term carries little. This prints, for each soft-target file
(``tools/cache_soft_targets.py``), matched to the labels as the dataset
that trains on it matches them (``CocoMultiLabelDataset``,
``attach_soft_targets``):
the mean ``p'`` on positive and negative (image, class) pairs, the share of
positives below 0.5 and of negatives above it, the mean ``|p' - y|``, the
mean binary entropy of ``p'`` (nats) and how well ``p'`` ranks the images
of each class (mAP against the labels, mmpretrain's ``AveragePrecision``).
``--image-ids FIRST:LAST`` keeps the images whose COCO ids lie in that
range (both ends included), e.g. the mosaics of a
``tools/analysis_tools/mosaic_scenes.py`` split (ids after the source's).

Example (the benchmark's training split)::

    python tools/analysis_tools/soft_target_stats.py \
        data/multidigits_large/annotations/instances_train.json \
        data/multidigits_large/train \
        work_dirs/benchmarks/epochs60/teacher_wsddn/seed0/soft_targets.pkl
"""
import argparse
from typing import Dict, Optional, Sequence, Tuple

import numpy as np


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Soft targets against the labels')
    parser.add_argument('ann_file', help='COCO-format instances json')
    parser.add_argument('img_dir', help='image folder of that split')
    parser.add_argument('soft_target_files', nargs='+',
                        help='soft-target pickles of that split')
    parser.add_argument('--image-ids', type=image_id_range, default=None,
                        metavar='FIRST:LAST',
                        help='only the images with these COCO ids '
                        '(both ends included)')
    return parser.parse_args(argv)


def image_id_range(text: str) -> Tuple[int, int]:
    """``'FIRST:LAST'`` as two ints, for ``--image-ids``."""
    try:
        first, last = (int(v) for v in text.split(':'))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'--image-ids expects FIRST:LAST (two integers), got {text!r}'
        ) from None
    if first > last:
        raise argparse.ArgumentTypeError(
            f'--image-ids {text}: FIRST is above LAST')
    return first, last


def labelled_images(ann_file: str,
                    img_dir: str,
                    image_ids: Optional[Tuple[int, int]] = None
                    ) -> Tuple[list, np.ndarray]:
    """The split's images, read by the dataset that trains on them.

    Args:
        ann_file (str): COCO-format instances json.
        img_dir (str): The split's image folder.
        image_ids (tuple, optional): ``(first, last)``: only the images
            with COCO ids in that range (both ends included).

    Returns:
        tuple: ``data_list`` (one ``data_info`` per image) and the labels,
        float (N, K), 1 where the class is present.
    """
    from mmkdwsd.datasets import CocoMultiLabelDataset
    dataset = CocoMultiLabelDataset(
        ann_file=ann_file,
        data_prefix=dict(img=img_dir),
        pipeline=[],
        serialize_data=False)
    data_list = dataset.data_list
    if image_ids is not None:
        data_list = [
            info for info in data_list
            if image_ids[0] <= info['img_id'] <= image_ids[1]
        ]
        if not data_list:
            raise ValueError(f'{ann_file}: no image has an id in '
                             f'{image_ids[0]}:{image_ids[1]}')
    labels = np.zeros((len(data_list), len(dataset.metainfo['classes'])),
                      np.float32)
    for row, info in zip(labels, data_list):
        row[info['gt_label']] = 1
    return data_list, labels


def soft_target_stats(ann_file: str,
                      img_dir: str,
                      soft_target_file: str,
                      images: Optional[Tuple[list, np.ndarray]] = None
                      ) -> Dict[str, float]:
    """Statistics of one soft-target file against the labels.

    Args:
        ann_file (str): COCO-format instances json.
        img_dir (str): The split's image folder.
        soft_target_file (str): Soft targets of every image of the split.
        images (tuple, optional): :func:`labelled_images` of the split,
            read once for several files.

    Returns:
        dict: ``images``, ``pos_mean``, ``neg_mean``, ``pos_below_half``,
        ``neg_above_half``, ``abs_diff``, ``entropy`` and ``map`` (the
        soft targets' mAP against the labels, in %).
    """
    from mmpretrain.evaluation import AveragePrecision

    from mmkdwsd.datasets.soft_targets import attach_soft_targets
    data_list, labels = images or labelled_images(ann_file, img_dir)
    attach_soft_targets(data_list, soft_target_file, labels.shape[1])
    targets = np.stack([info['soft_target'] for info in data_list])
    pos, neg = targets[labels == 1], targets[labels == 0]
    clipped = np.clip(targets, 1e-7, 1 - 1e-7)
    entropy = -(clipped * np.log(clipped) +
                (1 - clipped) * np.log(1 - clipped))
    return dict(
        images=len(targets),
        pos_mean=float(pos.mean()),
        neg_mean=float(neg.mean()),
        pos_below_half=float((pos < 0.5).mean()),
        neg_above_half=float((neg > 0.5).mean()),
        abs_diff=float(np.abs(targets - labels).mean()),
        entropy=float(entropy.mean()),
        map=float(AveragePrecision.calculate(targets, labels)))


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    images = labelled_images(args.ann_file, args.img_dir, args.image_ids)
    stats = [
        soft_target_stats(args.ann_file, args.img_dir, path, images)
        for path in args.soft_target_files
    ]
    print('| soft targets | images | mean p\' (positives) | '
          'mean p\' (negatives) | positives < 0.5 | negatives > 0.5 | '
          'mean abs(p\' - y) | mean entropy | mAP |')
    print('|---|---|---|---|---|---|---|---|---|')
    for path, s in zip(args.soft_target_files, stats):
        print(f'| {path} | {s["images"]} | {s["pos_mean"]:.3f} | '
              f'{s["neg_mean"]:.3f} | {s["pos_below_half"]:.3f} | '
              f'{s["neg_above_half"]:.3f} | {s["abs_diff"]:.3f} | '
              f'{s["entropy"]:.3f} | {s["map"]:.1f} |')


if __name__ == '__main__':
    main()
