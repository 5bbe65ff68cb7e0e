# Copyright (c) mmkdwsd authors. All rights reserved.
"""The decoded cache at full size or at the student's scale (``cache_scale``).

``PreDecodedDataset`` stores every scene decoded, at full size unless
``cache_scale`` asks for the training scale. This script reads the same
random batches through both caches of one split, interleaved round by round
in one process, and prints one table: the files' sizes, the workers' side
alone (gathering the batches from the memory-mapped file) and the same with
``PreDecodedDataPreprocessor`` turning them into the student's 64 px inputs
(on this device: a resize from the full-size cache, none from the scaled
one).

    python tools/benchmarks/cache_scale.py --data-root DIR [--scale 64]

``DIR`` holds a MultiDigits-style split (``annotations/instances_train.json``
and ``train/``); the full-size cache is built if missing (as the training
would), the scaled one too, the time of that build printed.
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from bench_utils import env_line, markdown_table  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--ann-file',
                        default='annotations/instances_train.json',
                        help='relative to --data-root')
    parser.add_argument('--cache-file',
                        default='predecoded/instances_train.npy',
                        help='the full-size cache, relative to --data-root; '
                        'the scaled one is named after it')
    parser.add_argument('--scale', type=int, default=64,
                        help="the student's scale (px, square)")
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--batches', type=int, default=100,
                        help='batches timed per round and variant')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--workers', type=int, default=2)
    return parser.parse_args(argv)


def _time_batches(dataset, batches, workers, preprocessor=None) -> float:
    """Seconds per batch over ``batches`` (lists of indices), after the
    first (the workers' start)."""
    from torch.utils.data import DataLoader

    from mmkdwsd.datasets import predecoded_collate
    loader = DataLoader(dataset, batch_sampler=batches, num_workers=workers,
                        collate_fn=predecoded_collate)
    start = None
    for data in loader:
        if preprocessor is not None:
            preprocessor(data, True)
        if start is None:
            start = time.perf_counter()
    return (time.perf_counter() - start) / (len(batches) - 1)


def main(argv=None) -> None:
    args = parse_args(argv)
    os.chdir(_ROOT)
    import torch

    from mmkdwsd.datasets import PreDecodedDataset
    from mmkdwsd.registry import MODELS
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    inner = dict(
        type='CocoMultiLabelDataset',
        data_root=osp.join(args.data_root, ''),
        ann_file=args.ann_file,
        data_prefix=dict(img='train/'),
        pipeline=[])
    variants, notes = {}, {}
    for name, scale in (('full size', None),
                        (f'{args.scale} px (cache_scale)', args.scale)):
        start = time.perf_counter()
        variants[name] = PreDecodedDataset(
            inner, cache_file=args.cache_file, cache_scale=scale)
        notes[name] = f'opened or built in {time.perf_counter() - start:.0f} s'
    preprocessor = MODELS.build(
        dict(
            type='PreDecodedDataPreprocessor',
            preprocessor=dict(
                type='mmpretrain.ClsDataPreprocessor',
                mean=[0., 0., 0.],
                std=[255., 255., 255.]),
            views=[dict(pack='cls', scales=[args.scale])]))
    num = len(next(iter(variants.values())))
    times = {(name, with_pre): []
             for name in variants for with_pre in (False, True)}
    for r in range(args.rounds):
        for with_pre in (False, True):
            # the same random batches for both caches, new ones for each
            # row (batches read just before would come from the page cache)
            order = torch.randperm(
                num, generator=torch.Generator().manual_seed(2 * r + with_pre))
            batches = order[:(args.batches + 1) * args.batch_size].view(
                -1, args.batch_size).tolist()
            for name, dataset in variants.items():
                times[name, with_pre].append(
                    _time_batches(dataset, batches, args.workers,
                                  preprocessor if with_pre else None))
    rows = []
    for with_pre in (False, True):
        first = None
        for name, dataset in variants.items():
            t = statistics.median(times[name, with_pre])
            first = first or t
            what = 'loader + preprocessor (64 px inputs)' if with_pre \
                else 'loader alone'
            rows.append([
                what, name,
                f'{osp.getsize(dataset.cache_file) / 2**20:,.2f} MiB',
                f'{t * 1e3:.1f}', f'{args.batch_size / t:,.0f}',
                f'{first / t:.2f}x', notes[name] if not with_pre else ''
            ])
    print(markdown_table(['what', 'cache', 'file', 'ms per batch (median)',
                          'img/s', 'speed-up', 'note'], rows))
    print(f'\n{num} scenes of {args.data_root}, batch {args.batch_size}, '
          f'{args.workers} workers, {args.rounds} rounds of {args.batches} '
          f'random batches per variant, interleaved; {env_line()}')


if __name__ == '__main__':
    main()
