# Copyright (c) mmkdwsd authors. All rights reserved.
"""Recombine a labelled split's images into new scenes for the teacher to
label (a transfer set made of the training images alone).

The benchmark's 64 px student is short of scenes (docs/benchmarks.md
section 1, "What the gain is made of"), and a teacher-labelled transfer set of
new scenes lifts the distilled student most; but new scenes are beyond the
paper, which distils on the labelled training images only. A mosaic needs no
new scene: each is four quarter-size crops, at random places, of four random
training images, side by side. Image-level labels do not say which objects a
crop keeps, so the labels cannot follow the crops, while the weakly-supervised
teacher, which localises, can label the mosaic (``cache_soft_targets.py`` and
``pseudo_label_scenes.py``, as for the transfer set).

The output root holds the larger split: ``train/`` with links to the source
images (same names, so the labelled split is its first scenes, unchanged) and
the mosaics ``mosaic_NNNNNN.png``; ``annotations/instances_train.json`` with
the source's images and annotations first, then the mosaics'; ``val`` and its
annotations linked to the source's. A mosaic's annotations are the source
boxes that keep at least ``--min-visible`` of their area inside their crop,
clipped and moved: known because the scenes are generated, used only to
report how well the teacher's pseudo-labels match (the student never reads
them; ``pseudo_label_scenes.py`` replaces them). Each mosaic is drawn from its
own generator seeded by (seed, index), so ``--workers`` changes nothing but
the time, and a rerun keeps the images already written.

``--reuse-from ROOT`` hard-links the mosaics that a smaller split of the
same source and seed already drew (the same images: mosaic i is drawn from
its own generator), so a larger pool costs only its new mosaics' time and
disk.

``--union-labels FILE`` also writes the label-only control: the split with
each mosaic labelled by the union of its four sources' image-level labels,
all the labels can say of a mosaic without a teacher.

Example::

    python tools/analysis_tools/mosaic_scenes.py data/multidigits_large \\
        data/multidigits_large_mosaic30000 --num 30000
    python tools/analysis_tools/mosaic_scenes.py data/multidigits_large \\
        data/multidigits_large_mosaic70000 --num 70000 \\
        --reuse-from data/multidigits_large_mosaic30000
"""
import argparse
import json
import multiprocessing
import os
import os.path as osp
import shutil
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmkdwsd.utils.fileio import atomic_dump_json
from mmkdwsd.utils.progress import Progress


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Mosaics of a labelled split, for the teacher to label')
    parser.add_argument('src_root', help='dataset root with annotations/'
                        'instances_train.json and train/')
    parser.add_argument('out_root', help='root of the larger split')
    parser.add_argument('--num', type=int, default=30000,
                        help='mosaics to make (default: 30000)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--min-visible', type=float, default=0.5,
        help='a source box is in the mosaic\'s (report-only) annotations '
        'when at least this share of its area is inside its crop '
        '(default: 0.5)')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes that draw the mosaics (default: 1)')
    parser.add_argument(
        '--union-labels', metavar='FILE',
        help='also write FILE: the split\'s json with each mosaic labelled '
        'by the union of its four sources\' image-level labels (the '
        'label-only control, no teacher)')
    parser.add_argument(
        '--reuse-from', metavar='ROOT',
        help='hard-link (or copy, across file systems) the mosaics that '
        'the split at ROOT, written by this tool from the same source and '
        'seed, already drew, instead of drawing them again')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    if args.num < 1 or args.workers < 1:
        parser.error(f'--num and --workers must be at least 1, got '
                     f'{args.num} and {args.workers}')
    if not 0 < args.min_visible <= 1:
        parser.error(f'--min-visible must be in (0, 1], got '
                     f'{args.min_visible}')
    return args


def crop_boxes(boxes: np.ndarray, crop: Tuple[int, int, int, int],
               offset: Tuple[int, int],
               min_visible: float) -> Tuple[np.ndarray, np.ndarray]:
    """The boxes that keep enough of themselves inside a crop, moved.

    Args:
        boxes (np.ndarray): COCO ``[x, y, w, h]`` boxes, shape (B, 4).
        crop (tuple[int]): ``(x0, y0, x1, y1)`` of the crop in the source.
        offset (tuple[int]): ``(x, y)`` where the crop's corner lands.
        min_visible (float): Least share of a box's area inside the crop.

    Returns:
        tuple[np.ndarray, np.ndarray]: The kept boxes clipped to the crop
        and moved by ``offset``, ``[x, y, w, h]`` (B', 4); and the indices
        of the kept boxes (B', ).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0, x1, y1 = crop
    left = np.clip(boxes[:, 0], x0, x1)
    top = np.clip(boxes[:, 1], y0, y1)
    right = np.clip(boxes[:, 0] + boxes[:, 2], x0, x1)
    bottom = np.clip(boxes[:, 1] + boxes[:, 3], y0, y1)
    inside = (right - left) * (bottom - top)
    area = boxes[:, 2] * boxes[:, 3]
    keep = np.flatnonzero((area > 0) & (inside >= min_visible * area))
    moved = np.stack([
        left - x0 + offset[0], top - y0 + offset[1], right - left,
        bottom - top
    ], 1)[keep]
    return moved, keep


def mosaic_sources(index: int, seed: int,
                   num_images: int) -> Tuple[np.random.Generator, np.ndarray]:
    """The generator of mosaic ``index`` and its four source images.

    Args:
        index (int): The mosaic's index.
        seed (int): The run's seed.
        num_images (int): Images in the source split.

    Returns:
        tuple: The generator, seeded by ``(seed, index)``, after drawing
        the sources; and the sources' indices into the source's images, in
        quarter order (top left, top right, bottom left, bottom right),
        shape (4, ).
    """
    rng = np.random.default_rng([seed, index])
    return rng, rng.integers(0, num_images, 4)


def make_mosaic(index: int, seed: int, images: List[dict],
                boxes: Dict[int, List[dict]], img_dir: str,
                min_visible: float, write_to: Optional[str]
                ) -> Tuple[Tuple[int, int], List[dict]]:
    """One mosaic: four quarter-size crops of random source images.

    Args:
        index (int): The mosaic's index (with ``seed``, its generator).
        seed (int): The run's seed.
        images (list[dict]): The source's COCO image entries.
        boxes (dict[int, list[dict]]): Source annotations by image id.
        img_dir (str): The source's image folder.
        min_visible (float): See :func:`crop_boxes`.
        write_to (str, optional): Where to write the mosaic's PNG; None
            when it is already written (only its annotations are made).

    Returns:
        tuple: ``(width, height)`` and the annotations (dicts without
        ``id`` / ``image_id``).
    """
    rng, sources = mosaic_sources(index, seed, len(images))
    width, height = images[0]['width'], images[0]['height']
    cw, ch = width // 2, height // 2
    canvas = np.zeros((height, width, 3), np.uint8) if write_to else None
    annotations = []
    for quarter, src in enumerate(sources):
        info = images[src]
        if info['width'] < cw or info['height'] < ch:
            raise ValueError(
                f'{info["file_name"]}: {info["width"]} x {info["height"]} '
                f'is smaller than a mosaic quarter ({cw} x {ch}, half of '
                f'the first image {images[0]["file_name"]})')
        x0 = int(rng.integers(0, info['width'] - cw + 1))
        y0 = int(rng.integers(0, info['height'] - ch + 1))
        offset = ((quarter % 2) * cw, (quarter // 2) * ch)
        if canvas is not None:
            path = osp.join(img_dir, info['file_name'])
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise FileNotFoundError(f'{path}: cannot read this image')
            if img.shape[:2] != (info['height'], info['width']):
                raise ValueError(
                    f'{path}: {img.shape[1]} x {img.shape[0]}, but its '
                    f'annotation says {info["width"]} x {info["height"]}')
            canvas[offset[1]:offset[1] + ch,
                   offset[0]:offset[0] + cw] = img[y0:y0 + ch, x0:x0 + cw]
        anns = boxes.get(info['id'], [])
        moved, keep = crop_boxes([a['bbox'] for a in anns],
                                 (x0, y0, x0 + cw, y0 + ch), offset,
                                 min_visible)
        for box, k in zip(moved, keep):
            box = [round(float(v), 2) for v in box]
            annotations.append(
                dict(category_id=anns[k]['category_id'], bbox=box,
                     area=round(box[2] * box[3], 2), iscrowd=0))
    if canvas is not None:
        ok, buf = cv2.imencode('.png', canvas)
        if not ok:
            raise RuntimeError(f'{write_to}: PNG encoding failed')
        tmp = write_to + '.tmp'
        buf.tofile(tmp)
        os.replace(tmp, write_to)
    return (width, height), annotations


_SOURCE = None  # (images, boxes, img_dir, seed, min_visible, out_img)


def _init_worker(source: tuple) -> None:
    global _SOURCE
    cv2.setNumThreads(1)
    _SOURCE = source


def _mosaic_job(index: int) -> Tuple[Tuple[int, int], List[dict]]:
    """Mosaic ``index`` of the source set by :func:`_init_worker`, its
    image written unless already there."""
    images, boxes, img_dir, seed, min_visible, out_img = _SOURCE
    path = osp.join(out_img, f'mosaic_{index:06d}.png')
    return make_mosaic(index, seed, images, boxes, img_dir, min_visible,
                       None if osp.isfile(path) else path)


def _link(target: str, link: str) -> None:
    """``link`` -> ``target`` (absolute), replacing a link already there."""
    if osp.islink(link):
        os.remove(link)
    os.symlink(osp.abspath(target), link)


def reusable_mosaics(reuse_root: str, ann_file: str, seed: int) -> int:
    """How many mosaics another split drew that this one can reuse.

    Args:
        reuse_root (str): Root of a split written by this tool.
        ann_file (str): This split's source instances json.
        seed (int): This split's seed.

    Returns:
        int: The other split's number of mosaics: its mosaic ``i`` is this
        split's mosaic ``i`` for each ``i`` below it.

    Raises:
        FileNotFoundError: ``reuse_root`` has no instances json.
        ValueError: It is not a mosaic split, or one of another source or
            seed (its images would differ from this split's).
    """
    other = osp.join(reuse_root, 'annotations', 'instances_train.json')
    if not osp.isfile(other):
        raise FileNotFoundError(f'{other}: no such file; the split to '
                                'reuse must be written by mosaic_scenes.py')
    with open(other, encoding='utf-8') as f:
        meta = (json.load(f).get('info') or {}).get('mosaic')
    if not meta:
        raise ValueError(f'{other}: no "info.mosaic"; expected a split '
                         'written by mosaic_scenes.py')
    source = osp.abspath(ann_file)
    if meta.get('source') != source or meta.get('seed') != seed:
        raise ValueError(
            f'{other}: "info.mosaic" says source {meta.get("source")} and '
            f'seed {meta.get("seed")}, but this split mixes {source} with '
            f'seed {seed}: its mosaics are not this split\'s')
    return int(meta['mosaics'])


def reuse_mosaics(reuse_root: str, out_img: str, num: int) -> int:
    """Hard-link (or copy) another split's first ``num`` mosaics that
    ``out_img`` lacks.

    Args:
        reuse_root (str): Root of the split to reuse, checked by
            :func:`reusable_mosaics`.
        out_img (str): This split's image folder.
        num (int): Mosaics to take at most.

    Returns:
        int: The mosaics linked or copied.
    """
    done = 0
    for i in range(num):
        name = f'mosaic_{i:06d}.png'
        src = osp.join(reuse_root, 'train', name)
        dst = osp.join(out_img, name)
        if osp.isfile(dst) or not osp.isfile(src):
            continue
        try:
            os.link(src, dst)
        except OSError:  # another file system: a whole copy, then its name
            shutil.copyfile(src, dst + '.tmp')
            os.replace(dst + '.tmp', dst)
        done += 1
    return done


def make_mosaic_split(src_root: str, out_root: str, num: int, seed: int = 0,
                      min_visible: float = 0.5,
                      progress: bool = True,
                      workers: int = 1,
                      reuse_from: Optional[str] = None) -> str:
    """Write the larger split: the source's training scenes and ``num``
    mosaics of them.

    Args:
        src_root (str): Dataset root with ``annotations/instances_train.json``
            and ``train/`` (``val`` and its annotations are linked when
            present).
        out_root (str): Root of the larger split.
        num (int): Mosaics to make.
        seed (int): Seed of the mosaics' generators.
        min_visible (float): See :func:`crop_boxes`.
        progress (bool): Show the progress. Defaults to True.
        workers (int): Processes that draw the mosaics. Defaults to 1.
        reuse_from (str, optional): Root of a split of the same source and
            seed whose mosaics to hard-link instead of drawing them again
            (:func:`reusable_mosaics`). Defaults to None.

    Returns:
        str: The larger split's instances json.
    """
    ann_file = osp.join(src_root, 'annotations', 'instances_train.json')
    img_dir = osp.join(src_root, 'train')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'{ann_file}: no such file; src_root must '
                                'be a dataset root (annotations/, train/)')
    if osp.realpath(src_root) == osp.realpath(out_root):
        raise ValueError(f'{out_root}: the output root must differ from '
                         'the source root')
    with open(ann_file, encoding='utf-8') as f:
        data = json.load(f)
    images = data.get('images') or []
    if not images:
        raise ValueError(f'{ann_file}: "images" is empty; nothing to mix')
    reusable = 0 if reuse_from is None else reusable_mosaics(
        reuse_from, ann_file, seed)
    boxes = defaultdict(list)
    for ann in data.get('annotations', []):
        boxes[ann['image_id']].append(ann)
    out_img = osp.join(out_root, 'train')
    os.makedirs(out_img, exist_ok=True)
    os.makedirs(osp.join(out_root, 'annotations'), exist_ok=True)
    for info in images:
        link = osp.join(out_img, info['file_name'])
        if not osp.lexists(link):
            os.symlink(osp.abspath(osp.join(img_dir, info['file_name'])),
                       link)
    for name in ('val', osp.join('annotations', 'instances_val.json')):
        if osp.exists(osp.join(src_root, name)):
            _link(osp.join(src_root, name), osp.join(out_root, name))
    if reusable:
        linked = reuse_mosaics(reuse_from, out_img, min(num, reusable))
        if progress:
            print(f'{linked} mosaics linked from {reuse_from}')
    next_img = max(img['id'] for img in images) + 1
    next_ann = max((a['id'] for a in data.get('annotations', [])),
                   default=0) + 1
    new_images, new_anns = [], []
    source = (images, dict(boxes), img_dir, seed, min_visible, out_img)
    pool = None
    if workers > 1:
        pool = multiprocessing.get_context('fork').Pool(
            workers, _init_worker, (source, ))
        results = pool.imap(_mosaic_job, range(num), chunksize=64)
    else:
        _init_worker(source)
        results = map(_mosaic_job, range(num))
    try:
        with Progress(num, 'mosaics', enabled=progress) as bar:
            for i, ((width, height), anns) in enumerate(results):
                new_images.append(
                    dict(id=next_img + i, file_name=f'mosaic_{i:06d}.png',
                         width=width, height=height))
                for ann in anns:
                    new_anns.append(dict(id=next_ann, image_id=next_img + i,
                                         **ann))
                    next_ann += 1
                bar.update()
    finally:
        if pool is not None:
            pool.terminate()
    data['images'] = images + new_images
    data['annotations'] = data.get('annotations', []) + new_anns
    data.setdefault('info', {})['mosaic'] = dict(
        source=osp.abspath(ann_file),
        labelled_images=len(images),
        mosaics=num,
        seed=seed,
        min_visible=min_visible,
        note='the mosaics\' annotations are the source boxes kept by their '
        'crops, for reports only: the student trains on the teacher\'s '
        'pseudo-labels (pseudo_label_scenes.py)')
    out_file = osp.join(out_root, 'annotations', 'instances_train.json')
    atomic_dump_json(data, out_file)
    return out_file


def union_labels(split_ann_file: str, out_file: str) -> Dict[str, float]:
    """Label each mosaic with its four sources' image-level labels.

    The label-only control of the mosaics: what the training labels alone
    can say of a mosaic, with no teacher. The union names every class of
    the sources, also those whose objects the crops cut away, so it is
    right on every class a mosaic shows and wrong on the others.

    Args:
        split_ann_file (str): The larger split's instances json
            (:func:`make_mosaic_split`).
        out_file (str): Where to write the same json with each mosaic's
            annotations replaced by one per class of the union, the whole
            image as its box (as ``pseudo_label_scenes.py`` writes them;
            the student reads only the image-level labels).

    Returns:
        dict: ``precision``, ``recall`` and ``exact`` (the share of
        mosaics whose whole label set is right) of the union against the
        mosaics' report-only annotations.
    """
    with open(split_ann_file, encoding='utf-8') as f:
        data = json.load(f)
    meta = (data.get('info') or {}).get('mosaic')
    if not meta:
        raise ValueError(f'{split_ann_file}: no "info.mosaic"; expected a '
                         'split written by mosaic_scenes.py')
    num = meta['labelled_images']
    images = data['images']
    if len(images) != num + meta['mosaics']:
        raise ValueError(
            f'{split_ann_file}: {len(images)} images, but "info.mosaic" '
            f'says {num} labelled and {meta["mosaics"]} mosaics')
    labels = defaultdict(set)
    for ann in data.get('annotations', []):
        labels[ann['image_id']].add(ann['category_id'])
    mosaic_ids = {info['id'] for info in images[num:]}
    anns = [a for a in data.get('annotations', [])
            if a['image_id'] not in mosaic_ids]
    next_ann = max((a['id'] for a in data.get('annotations', [])),
                   default=0) + 1
    right = named = shown = exact = 0
    for i, info in enumerate(images[num:]):
        if info['file_name'] != f'mosaic_{i:06d}.png':
            raise ValueError(
                f'{split_ann_file}: image {num + i} is '
                f'{info["file_name"]}, expected mosaic_{i:06d}.png')
        _, sources = mosaic_sources(i, meta['seed'], num)
        union = set().union(*(labels[images[s]['id']] for s in sources))
        truth = labels[info['id']]
        right += len(union & truth)
        named += len(union)
        shown += len(truth)
        exact += union == truth
        w, h = info['width'], info['height']
        for cat in sorted(union):
            anns.append(dict(id=next_ann, image_id=info['id'],
                             category_id=cat, bbox=[0, 0, w, h], area=w * h,
                             iscrowd=0))
            next_ann += 1
    out = dict(data, annotations=anns)
    out['info'] = dict(
        data['info'],
        mosaic_labels='each mosaic: the union of its four sources\' '
        'image-level labels (mosaic_scenes.py --union-labels)')
    atomic_dump_json(out, out_file)
    return dict(precision=right / max(named, 1), recall=right / max(shown, 1),
                exact=exact / max(len(images) - num, 1))


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    out = make_mosaic_split(args.src_root, args.out_root, args.num,
                            args.seed, args.min_visible,
                            not args.no_progress, args.workers,
                            args.reuse_from)
    print(f'{out}: the source\'s training scenes and {args.num} mosaics')
    if args.union_labels:
        stats = union_labels(out, args.union_labels)
        print(f'{args.union_labels}: the mosaics labelled by their sources\' '
              'labels; against the classes they show: precision '
              f'{stats["precision"]:.1%}, recall {stats["recall"]:.1%}, '
              f'whole set right {stats["exact"]:.1%}')


if __name__ == '__main__':
    main()
