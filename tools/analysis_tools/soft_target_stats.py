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
positives below 0.5 and of negatives above it, the mean ``|p' - y|`` and the
mean binary entropy of ``p'`` (nats).

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
    return parser.parse_args(argv)


def labelled_images(ann_file: str, img_dir: str) -> Tuple[list, np.ndarray]:
    """The split's images, read by the dataset that trains on them.

    Args:
        ann_file (str): COCO-format instances json.
        img_dir (str): The split's image folder.

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
    labels = np.zeros((len(dataset.data_list),
                       len(dataset.metainfo['classes'])), np.float32)
    for row, info in zip(labels, dataset.data_list):
        row[info['gt_label']] = 1
    return dataset.data_list, labels


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
        ``neg_above_half``, ``abs_diff`` and ``entropy``.
    """
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
        entropy=float(entropy.mean()))


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    images = labelled_images(args.ann_file, args.img_dir)
    stats = [
        soft_target_stats(args.ann_file, args.img_dir, path, images)
        for path in args.soft_target_files
    ]
    print('| soft targets | images | mean p\' (positives) | '
          'mean p\' (negatives) | positives < 0.5 | negatives > 0.5 | '
          'mean abs(p\' - y) | mean entropy |')
    print('|---|---|---|---|---|---|---|---|')
    for path, s in zip(args.soft_target_files, stats):
        print(f'| {path} | {s["images"]} | {s["pos_mean"]:.3f} | '
              f'{s["neg_mean"]:.3f} | {s["pos_below_half"]:.3f} | '
              f'{s["neg_above_half"]:.3f} | {s["abs_diff"]:.3f} | '
              f'{s["entropy"]:.3f} |')


if __name__ == '__main__':
    main()
