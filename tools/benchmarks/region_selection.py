# Copyright (c) mmkdwsd authors. All rights reserved.
"""Region selection of the feature level, per image vs batched.

``RegionDistiller`` draws ``num_sampled`` of each image's regions and
gathers their boxes and teacher features. Per image that is about 19
operations per image (about 1,200 at batch 64), each a kernel launch on a
GPU, where the small MultiDigits students take a few milliseconds per step;
batched (``sample_batched`` + ``gather_batched``, taken when the images have
the same region count) it is a few dozen per batch (plus one per image when
the teacher's features are not views of one tensor). This script counts
the top-level ATen operations of one selection + gather (the GPU-relevant
figure) and times both on the CPU, side by side.

    python tools/benchmarks/region_selection.py [--images 64] [--regions 500]
        [--sampled 64] [--dim 256]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from bench_utils import median_time  # noqa: E402
from mmkdwsd.registry import MODELS  # noqa: E402
from mmkdwsd.utils import register_all_modules  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=64)
    parser.add_argument('--regions', type=int, default=500)
    parser.add_argument('--sampled', type=int, default=64)
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--repeats', type=int, default=20)
    args = parser.parse_args(argv)
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    n, r = args.images, args.regions
    distiller = MODELS.build(
        dict(type='RegionDistiller', in_channels=8, out_channels=args.dim,
             num_sampled=args.sampled))
    xy = torch.rand(n, r, 2) * 200
    out = dict(
        proposals=list(torch.cat([xy, xy + 16 + torch.rand(n, r, 2) * 40],
                                 -1)),
        region_feats=list(torch.rand(n, r, args.dim)),
        proposal_scores=list(torch.rand(n, r)))
    factors = torch.full((n, 4), 0.5)

    def select(batched: bool):
        if batched:
            index, weight = distiller.sample_batched(
                torch.stack(out['proposal_scores']))
            return distiller.gather_batched(index, weight, out, factors)
        return distiller.gather(
            distiller.select_regions(out, [None] * n), out, factors)

    rows = []
    for batched in (False, True):
        select(batched)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            select(batched)
        ops = sum(1 for e in prof.events()
                  if e.name.startswith('aten::') and e.cpu_parent is None)
        seconds = median_time(lambda: select(batched), 'cpu', 0,
                              args.repeats)
        rows.append(('batched' if batched else 'per image', ops,
                     seconds * 1e3))
    print(f'\n{n} images x {r} regions, {args.sampled} sampled, '
          f'{args.dim}-d features, CPU, 1 thread\n')
    print('| selection + gather | top-level ATen ops | CPU ms (median) |')
    print('|---|---|---|')
    for name, ops, ms in rows:
        print(f'| {name} | {ops:,} | {ms:.2f} |')


if __name__ == '__main__':
    main()
