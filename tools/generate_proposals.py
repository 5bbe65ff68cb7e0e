# Copyright (c) mmkdwsd authors. All rights reserved.
"""Compute region proposals for a dataset (resumable, several processes).

Images come from one of:

- ``--ann-file FILE.json --img-dir DIR``: a COCO json (COCO 2014,
  MultiDigits), file names relative to DIR;
- ``--img-list FILE --img-dir DIR [--suffix .jpg]``: one image per line
  (NUS-WIDE ``ImageList/*.txt``, VOC ``ImageSets/Main/*.txt`` with
  ``--suffix .jpg``), backslashes allowed;
- ``--config CFG --split train|val|test``: the images of that dataloader's
  dataset (keys then match the dataset exactly);
- ``--img-dir DIR`` alone: every image under DIR.

Output: a pickle ``{'<parent folder>/<file name>': dict(bboxes=float32
(n, 4) xyxy, scores=float32 (n,))}``, rows sorted by score (see
``mmkdwsd.datasets.proposals``), written atomically. Work is saved in shards
under ``OUT.parts/``; a killed run restarted with the same arguments skips
the finished shards. Example::

    python tools/generate_proposals.py \
        --ann-file data/multidigits_small/annotations/instances_train.json \
        --img-dir data/multidigits_small/train \
        --out data/multidigits_small/proposals/ss_train.pkl \
        --method ss --topk 500 --workers 2
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import pickle
import shutil
import sys
import time
from multiprocessing import Pool
from typing import List

import cv2

from mmkdwsd.datasets.proposal_methods import EDGE_MODEL_HELP, METHODS
from mmkdwsd.datasets.proposals import proposal_key
from mmkdwsd.utils.fileio import atomic_dump_json, atomic_dump_pickle
from mmkdwsd.utils.progress import Progress

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Compute region proposals (resumable).')
    src = parser.add_argument_group('images')
    src.add_argument('--ann-file', help='COCO-format json')
    src.add_argument('--img-list', help='text file, one image per line')
    src.add_argument('--suffix', default='', help='appended to --img-list')
    src.add_argument('--config', help='dataset config')
    src.add_argument('--split', default='train', help='with --config')
    src.add_argument('--img-dir', default='', help='image folder')
    parser.add_argument('--out', required=True, help='output .pkl')
    parser.add_argument(
        '--method',
        default='ss',
        choices=sorted(METHODS),
        help='ss: Selective Search (opencv-contrib); windows: fast '
        'multi-scale windows; edgeboxes: needs --edge-model')
    parser.add_argument('--topk', type=int, default=500)
    parser.add_argument('--min-size', type=float, default=4.0)
    parser.add_argument('--edge-model', help='structured-edge model.yml.gz')
    parser.add_argument('--workers', type=int, default=1)
    parser.add_argument('--shard-size', type=int, default=64)
    parser.add_argument(
        '--limit-shards',
        type=int,
        default=None,
        help='compute at most N new shards, then stop (rerun to continue)')
    parser.add_argument('--overwrite', action='store_true')
    parser.add_argument('--keep-parts', action='store_true')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args()


def images_from_config(path: str, split: str) -> List[str]:
    """Image paths of ``{split}_dataloader.dataset`` of a config."""
    from mmengine.config import Config

    from mmkdwsd.registry import DATASETS
    from mmkdwsd.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(path)[f'{split}_dataloader']['dataset']
    while 'dataset' in cfg:  # unwrap RepeatDataset & co.
        cfg = cfg['dataset']
    cfg.update(proposal_file=None, pipeline=[])
    dataset = DATASETS.build(cfg)
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def list_images(args: argparse.Namespace) -> List[str]:
    """The image paths to process, in a fixed order."""
    for flag in ('config', 'ann_file', 'img_list'):
        path = getattr(args, flag)
        if path and not osp.isfile(path):
            sys.exit(f'--{flag.replace("_", "-")} {path}: no such file.')
    if args.img_dir and not osp.isdir(args.img_dir):
        sys.exit(f'--img-dir {args.img_dir}: no such folder.')
    if args.config:
        return images_from_config(args.config, args.split)
    if args.ann_file:
        with open(args.ann_file, encoding='utf-8') as f:
            images = json.load(f)['images']
        return [osp.join(args.img_dir, img['file_name']) for img in images]
    if args.img_list:
        with open(args.img_list, encoding='utf-8') as f:
            names = [
                line.split()[0].replace('\\', '/') for line in f
                if line.strip()
            ]
        return [osp.join(args.img_dir, n + args.suffix) for n in names]
    if args.img_dir:
        return sorted(
            p for p in glob.glob(
                osp.join(args.img_dir, '**', '*'), recursive=True)
            if p.lower().endswith(IMG_EXTS))
    sys.exit('Give --ann-file, --img-list, --config or --img-dir.')


def compute_shard(task: tuple) -> int:
    """Worker: proposals of one shard of images, saved atomically."""
    shard_path, paths, method, kwargs = task
    cv2.setNumThreads(1)
    shard = {}
    for path in paths:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f'Cannot read image {path} (missing or corrupt).')
        bboxes, scores = METHODS[method](img, **kwargs)
        shard[proposal_key(path)] = dict(bboxes=bboxes, scores=scores)
    atomic_dump_pickle(shard, shard_path)
    return len(paths)


def prepare_parts(parts_dir: str, paths: List[str],
                  args: argparse.Namespace) -> None:
    """Create the work folder, or check it belongs to these arguments."""
    settings = dict(
        method=args.method,
        topk=args.topk,
        min_size=args.min_size,
        edge_model=args.edge_model,
        shard_size=args.shard_size,
        images=hashlib.sha1('\n'.join(paths).encode()).hexdigest(),
        num_images=len(paths))
    meta_path = osp.join(parts_dir, 'settings.json')
    if osp.exists(meta_path):
        try:
            with open(meta_path) as f:
                old = json.load(f)
        except (OSError, ValueError) as e:
            sys.exit(f'{meta_path} is unreadable ({e}); it names the '
                     f'settings of the work in {parts_dir}: delete that '
                     'folder to start over.')
        if old != settings:
            sys.exit(f'{parts_dir} holds work from other settings ({old}); '
                     'delete it to start over.')
        return
    os.makedirs(parts_dir, exist_ok=True)
    atomic_dump_json(settings, meta_path)


def run_shards(tasks: list, num_images: int, done: int,
               args: argparse.Namespace) -> int:
    """Compute pending shards with a pool; returns images computed."""
    computed = 0
    with Progress(num_images, f'proposals ({args.method})', initial=done,
                  enabled=not args.no_progress) as bar:
        if args.workers > 1:
            with Pool(args.workers) as pool:
                for n in pool.imap_unordered(compute_shard, tasks):
                    computed += n
                    bar.update(n)
        else:
            for task in tasks:
                n = compute_shard(task)
                computed += n
                bar.update(n)
    return computed


def merge_shards(shard_paths: List[str], out: str) -> int:
    """Merge the shards (in order) into the output pickle, atomically."""
    merged = {}
    for path in shard_paths:
        with open(path, 'rb') as f:
            merged.update(pickle.load(f))
    atomic_dump_pickle(merged, out)
    return len(merged)


def main() -> None:
    args = parse_args()
    if osp.exists(args.out) and not args.overwrite:
        print(f'{args.out} exists; nothing to do (--overwrite to redo).')
        return
    if args.method == 'edgeboxes' and not args.edge_model:
        sys.exit(EDGE_MODEL_HELP)
    paths = list_images(args)
    if not paths:
        sys.exit('No images to process: the given annotations, list or '
                 'folder name none.')
    keys = [proposal_key(p) for p in paths]
    if len(set(keys)) != len(keys):
        sys.exit('Two images share the key <parent folder>/<file name>; '
                 'proposal files cannot tell them apart.')
    parts_dir = args.out + '.parts'
    prepare_parts(parts_dir, paths, args)
    kwargs = dict(topk=args.topk, min_size=args.min_size)
    if args.method == 'edgeboxes':
        kwargs['edge_model'] = args.edge_model
    shards = [(osp.join(parts_dir, f'shard_{i:06d}.pkl'),
               paths[s:s + args.shard_size], args.method, kwargs)
              for i, s in enumerate(range(0, len(paths), args.shard_size))]
    pending = [t for t in shards if not osp.exists(t[0])]
    done = len(paths) - sum(len(t[1]) for t in pending)
    if done:
        print(f'Resuming: {done} of {len(paths)} images already done in '
              f'{parts_dir}.')
    if args.limit_shards is not None:
        pending = pending[:args.limit_shards]
    start = time.perf_counter()
    computed = run_shards(pending, len(paths), done, args)
    elapsed = max(time.perf_counter() - start, 1e-9)
    print(f'{computed} images in {elapsed:.1f}s '
          f'({computed / elapsed:.1f} images/s, {args.workers} workers, '
          f'method {args.method}).')
    if done + computed < len(paths):
        print(f'Stopped with {len(paths) - done - computed} images left; '
              'rerun the same command to continue.')
        return
    num = merge_shards([t[0] for t in shards], args.out)
    if not args.keep_parts:
        shutil.rmtree(parts_dir)
    print(f'Wrote proposals of {num} images to {args.out}')


if __name__ == '__main__':
    main()
