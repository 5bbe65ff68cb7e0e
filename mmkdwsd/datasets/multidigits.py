# Copyright (c) mmkdwsd authors. All rights reserved.
"""MultiDigits: the built-in multi-label scene dataset (no download needed).

Each scene pastes a few real handwritten digits from scikit-learn's bundled
``load_digits`` set (1,797 images of 8x8 pixels, 10 classes) at random sizes,
positions and colours onto a cluttered background (colour gradient, random
strokes and arcs that look like digit strokes, blobs, pixel noise). Train and
val draw their digits from DISJOINT subsets of the 1,797 source digits, so
validation measures generalisation to unseen handwriting.

Output (COCO ``instances`` format, readable by pycocotools and
:class:`mmkdwsd.datasets.CocoMultiLabelDataset`)::

    OUT_DIR/
    ├── annotations/instances_train.json   # written last, atomically
    ├── annotations/instances_val.json
    ├── train/train_000000.png ...
    └── val/val_000000.png ...

Categories have ids 1..10 and names ``'0'``..``'9'``, so the contiguous class
index equals the digit. Boxes are tight around the digit's ink; they serve
only to evaluate localisation (CorLoc, detection mAP), never training. Each
json's ``info`` records the generator settings and ``source_indices``, the
sorted indices (into ``load_digits``) of the digits the split used.

Determinism: every image draws from its own generator seeded with
``(seed, split, image index)``, so the output is byte-identical for the same
seed and settings whatever the number of worker processes.
"""
import os
import os.path as osp
from multiprocessing import Pool
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmkdwsd.utils.fileio import atomic_dump_json, atomic_write_bytes
from mmkdwsd.utils.progress import Progress

NUM_SOURCE_DIGITS = 1797
CLASSES = tuple(str(d) for d in range(10))
SPLIT_CODES = {'train': 0, 'val': 1}

#: Generator settings of the presets. ``small`` trains the whole pipeline on
#: 2 CPU cores in minutes: 1-3 digits of 28-48 px in 128 px scenes with light
#: clutter, seen by the teacher at 64 px (digits of 14-24 px, above the
#: digits' native 8 px) and by the student at 32 px (7-12 px, around it), so
#: resolution matters. Harder settings (smaller digits, more clutter, fewer
#: images) did not train from scratch in CPU minutes (docs/design.md).
#: ``large`` is for GPU benchmarks.
PRESETS: Dict[str, dict] = {
    'small':
    dict(
        img_size=128,
        num_train=3000,
        num_val=500,
        min_digits=1,
        max_digits=3,
        min_digit_size=28,
        max_digit_size=48,
        max_iou=0.1,
        num_strokes=(0, 3),
        num_blobs=(0, 2),
        noise_std=5.0,
        min_contrast=100.0,
        val_digit_fraction=0.3),
    'large':
    dict(
        img_size=256,
        num_train=10000,
        num_val=2000,
        min_digits=1,
        max_digits=6,
        min_digit_size=20,
        max_digit_size=64,
        max_iou=0.1,
        num_strokes=(8, 20),
        num_blobs=(2, 6),
        noise_std=10.0,
        min_contrast=70.0,
        val_digit_fraction=0.3),
}


def get_preset(name: str, **overrides) -> dict:
    """Return the settings of a preset with some values replaced.

    Args:
        name (str): ``'small'`` or ``'large'``.
        **overrides: Settings to replace; ``None`` values are ignored.

    Returns:
        dict: The settings.
    """
    if name not in PRESETS:
        raise KeyError(f'Unknown MultiDigits preset {name!r}; '
                       f'choose from {sorted(PRESETS)}.')
    cfg = dict(PRESETS[name])
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in cfg:
            raise KeyError(f'Unknown MultiDigits setting {key!r}; '
                           f'known: {sorted(cfg)}.')
        cfg[key] = tuple(value) if isinstance(value, list) else value
    if not 1 <= cfg['min_digits'] <= cfg['max_digits']:
        raise ValueError('Need 1 <= min_digits <= max_digits, got '
                         f"{cfg['min_digits']} and {cfg['max_digits']}.")
    if not 8 <= cfg['min_digit_size'] <= cfg['max_digit_size'] \
            <= cfg['img_size']:
        raise ValueError(
            'Need 8 <= min_digit_size <= max_digit_size <= img_size, got '
            f"{cfg['min_digit_size']}, {cfg['max_digit_size']}, "
            f"{cfg['img_size']}.")
    return cfg


def load_source_digits() -> Tuple[np.ndarray, np.ndarray]:
    """Load scikit-learn's bundled handwritten digits.

    Returns:
        tuple[np.ndarray, np.ndarray]: Ink maps in [0, 1], shape
        (1797, 8, 8), float32; and their digits, shape (1797,), int64.
    """
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    return images, digits.target.astype(np.int64)


def split_source_digits(num_digits: int, val_fraction: float,
                        seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Split the source digit indices once into disjoint train/val pools.

    Args:
        num_digits (int): Number of source digits.
        val_fraction (float): Fraction of them reserved for val.
        seed (int): Random seed.

    Returns:
        tuple[np.ndarray, np.ndarray]: Sorted train and val indices.
    """
    perm = np.random.default_rng([seed, 1797]).permutation(num_digits)
    num_val = int(round(num_digits * val_fraction))
    return np.sort(perm[num_val:]), np.sort(perm[:num_val])


def _box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with (n, 4) xyxy boxes, shape (n,)."""
    if len(boxes) == 0:
        return np.zeros(0)
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / (area + areas - inter)


def _luma(color: np.ndarray) -> float:
    """Luminance of an RGB colour (or of the mean of an image region)."""
    return float(np.dot(color, [0.299, 0.587, 0.114]))


def _draw_background(rng: np.random.Generator, cfg: dict) -> np.ndarray:
    """Colour gradient plus clutter strokes, arcs and blobs.

    Returns:
        np.ndarray: RGB float32 image, shape (S, S, 3).
    """
    size = cfg['img_size']
    c0, c1 = rng.uniform(0, 255, size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy)
    ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
    img = (c0 * (1 - ramp[..., None]) + c1 * ramp[..., None])
    img = np.ascontiguousarray(img, dtype=np.float32)
    for _ in range(rng.integers(cfg['num_blobs'][0], cfg['num_blobs'][1] + 1)):
        overlay = img.copy()
        center = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(size // 16, size // 5, 2))
        cv2.ellipse(overlay, center, axes, float(rng.uniform(0, 180)), 0, 360,
                    rng.uniform(0, 255, 3).tolist(), -1)
        img = cv2.addWeighted(overlay, 0.5, img, 0.5, 0)
    for _ in range(
            rng.integers(cfg['num_strokes'][0], cfg['num_strokes'][1] + 1)):
        color = rng.uniform(0, 255, 3).tolist()
        thickness = int(rng.integers(1, 3))
        center = tuple(int(v) for v in rng.integers(0, size, 2))
        if rng.random() < 0.5:
            end = tuple(
                int(v) for v in np.clip(
                    np.array(center) +
                    rng.integers(-size // 6, size // 6 + 1, 2), 0, size - 1))
            cv2.line(img, center, end, color, thickness, cv2.LINE_AA)
        else:
            axes = tuple(int(v) for v in rng.integers(2, size // 12 + 3, 2))
            start = float(rng.uniform(0, 360))
            cv2.ellipse(img, center, axes, 0.0, start,
                        start + float(rng.uniform(90, 270)), color, thickness,
                        cv2.LINE_AA)
    return img


def _pick_color(rng: np.random.Generator, region: np.ndarray,
                min_contrast: float) -> np.ndarray:
    """A random RGB colour whose luminance differs from the region's mean.

    Returns:
        np.ndarray: RGB colour, shape (3,), float.
    """
    bg = _luma(region.reshape(-1, 3).mean(axis=0))
    color = rng.uniform(0, 255, 3)
    for _ in range(20):
        if abs(_luma(color) - bg) >= min_contrast:
            return color
        color = rng.uniform(0, 255, 3)
    return np.full(3, 0.0 if bg > 127.5 else 255.0)


def _place_digit(rng: np.random.Generator, ink: np.ndarray, cfg: dict,
                 boxes: List[np.ndarray]) -> Optional[tuple]:
    """Choose size and position for one digit under the overlap cap.

    Returns:
        tuple | None: ``(alpha, x0, y0, box)`` with the (h, w) alpha map, its
        top-left corner and the tight xyxy box; None if no position
        respects ``max_iou`` after 30 tries.
    """
    size = cfg['img_size']
    for _ in range(30):
        h = int(rng.integers(cfg['min_digit_size'], cfg['max_digit_size'] + 1))
        w = max(int(round(h * rng.uniform(0.75, 1.0))), 6)
        alpha = np.clip(
            cv2.resize(ink, (w, h), interpolation=cv2.INTER_LINEAR) * 1.3, 0,
            1)
        ys, xs = np.nonzero(alpha > 0.25)
        x0 = int(rng.integers(0, size - w + 1))
        y0 = int(rng.integers(0, size - h + 1))
        box = np.array([
            x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1
        ],
                       dtype=np.float64)
        if len(boxes) == 0 or _box_iou(box, np.stack(boxes)).max() \
                <= cfg['max_iou']:
            return alpha, x0, y0, box
    return None


def render_scene(rng: np.random.Generator, images: np.ndarray,
                 targets: np.ndarray, pool: np.ndarray,
                 cfg: dict) -> Tuple[np.ndarray, List[dict]]:
    """Render one scene.

    Args:
        rng (np.random.Generator): The image's own generator.
        images (np.ndarray): Source ink maps, shape (1797, 8, 8).
        targets (np.ndarray): Source digits, shape (1797,).
        pool (np.ndarray): Source indices this split may use.
        cfg (dict): Generator settings (see :data:`PRESETS`).

    Returns:
        tuple[np.ndarray, list[dict]]: The RGB uint8 image, shape (S, S, 3),
        and one dict(``bbox`` xyxy, ``label``, ``source_index``) per digit.
    """
    img = _draw_background(rng, cfg)
    objects, boxes = [], []
    num = int(rng.integers(cfg['min_digits'], cfg['max_digits'] + 1))
    for src in rng.choice(pool, size=num, replace=False):
        placed = _place_digit(rng, images[src], cfg, boxes)
        if placed is None:
            continue
        alpha, x0, y0, box = placed
        h, w = alpha.shape
        region = img[y0:y0 + h, x0:x0 + w]
        color = _pick_color(rng, region, cfg['min_contrast'])
        region[:] = region * (1 - alpha[..., None]) + color * alpha[..., None]
        boxes.append(box)
        objects.append(
            dict(
                bbox=box.tolist(),
                label=int(targets[src]),
                source_index=int(src)))
    img += rng.normal(0, cfg['noise_std'], img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), objects


_SOURCE: Tuple[np.ndarray, np.ndarray] = (np.zeros(0), np.zeros(0))


def _init_worker(source: Tuple[np.ndarray, np.ndarray]) -> None:
    """Pool initialiser: share the source digits with the worker."""
    global _SOURCE
    _SOURCE = source
    cv2.setNumThreads(1)


def _render_and_save(args: tuple) -> List[dict]:
    """Worker: render image ``idx`` of a split and write its PNG."""
    idx, split, seed, pool, cfg, img_dir = args
    images, targets = _SOURCE
    rng = np.random.default_rng([seed, SPLIT_CODES[split], idx])
    img, objects = render_scene(rng, images, targets, pool, cfg)
    ok, buf = cv2.imencode('.png', img[..., ::-1])
    assert ok, 'PNG encoding failed'
    atomic_write_bytes(
        osp.join(img_dir, image_name(split, idx)), buf.tobytes())
    return objects


def image_name(split: str, idx: int) -> str:
    """File name of image ``idx`` of ``split``, e.g. ``train_000007.png``."""
    return f'{split}_{idx:06d}.png'


def build_coco(split: str, objects: Sequence[List[dict]], cfg: dict,
               seed: int) -> dict:
    """Assemble the COCO ``instances`` dict of one split.

    Args:
        split (str): ``'train'`` or ``'val'``.
        objects (Sequence[list[dict]]): Per image, the digits of
            :func:`render_scene`.
        cfg (dict): Generator settings, recorded in ``info``.
        seed (int): Seed, recorded in ``info``.

    Returns:
        dict: COCO dict with ``info``, ``images``, ``annotations``,
        ``categories``.
    """
    size = cfg['img_size']
    images, annotations, used = [], [], set()
    for idx, objs in enumerate(objects):
        images.append(
            dict(
                id=idx + 1,
                file_name=image_name(split, idx),
                height=size,
                width=size))
        for obj in objs:
            x1, y1, x2, y2 = obj['bbox']
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=idx + 1,
                    category_id=obj['label'] + 1,
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=(x2 - x1) * (y2 - y1),
                    iscrowd=0,
                    source_index=obj['source_index']))
            used.add(obj['source_index'])
    info = dict(
        description=f'MultiDigits {split} split',
        split=split,
        seed=seed,
        settings={
            k: list(v) if isinstance(v, tuple) else v
            for k, v in cfg.items()
        },
        source_indices=sorted(used))
    categories = [
        dict(id=d + 1, name=name, supercategory='digit')
        for d, name in enumerate(CLASSES)
    ]
    return dict(
        info=info,
        images=images,
        annotations=annotations,
        categories=categories)


def generate_split(out_dir: str,
                   split: str,
                   pool: np.ndarray,
                   cfg: dict,
                   seed: int,
                   workers: int = 1,
                   progress: bool = True) -> str:
    """Render all images of one split and write its annotation json.

    Any old json of the split is removed first and the new one is written
    last, atomically: a killed run never leaves a json that looks complete.

    Args:
        out_dir (str): Dataset root.
        split (str): ``'train'`` or ``'val'``.
        pool (np.ndarray): Source digit indices reserved for this split.
        cfg (dict): Generator settings.
        seed (int): Random seed.
        workers (int): Worker processes. Defaults to 1.
        progress (bool): Show the progress (:class:`Progress`). Defaults to
            True.

    Returns:
        str: Path of the json written.
    """
    ann_path = osp.join(out_dir, 'annotations', f'instances_{split}.json')
    if osp.exists(ann_path):
        os.remove(ann_path)
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    num = cfg[f'num_{split}']
    tasks = [(i, split, seed, pool, cfg, img_dir) for i in range(num)]
    source = load_source_digits()
    objects = []
    with Progress(num, f'MultiDigits {split}', enabled=progress) as bar:
        if workers > 1:
            with Pool(workers, _init_worker, (source, )) as p:
                for obj in p.imap(_render_and_save, tasks, chunksize=16):
                    objects.append(obj)
                    bar.update()
        else:
            _init_worker(source)
            for task in tasks:
                objects.append(_render_and_save(task))
                bar.update()
    atomic_dump_json(build_coco(split, objects, cfg, seed), ann_path)
    return ann_path


def generate_multidigits(out_dir: str,
                         preset: str = 'small',
                         seed: int = 0,
                         workers: int = 1,
                         progress: bool = True,
                         **overrides) -> Dict[str, str]:
    """Generate a MultiDigits dataset (train and val).

    Args:
        out_dir (str): Dataset root.
        preset (str): ``'small'`` or ``'large'``. Defaults to ``'small'``.
        seed (int): Random seed. Defaults to 0.
        workers (int): Worker processes. Defaults to 1.
        progress (bool): Show progress bars. Defaults to True.
        **overrides: Settings replacing the preset's (see :data:`PRESETS`).

    Returns:
        dict[str, str]: Annotation json path per split.
    """
    cfg = get_preset(preset, **overrides)
    train_pool, val_pool = split_source_digits(NUM_SOURCE_DIGITS,
                                               cfg['val_digit_fraction'], seed)
    pools = dict(train=train_pool, val=val_pool)
    return {
        split:
        generate_split(out_dir, split, pools[split], cfg, seed, workers,
                       progress)
        for split in ('train', 'val')
    }
