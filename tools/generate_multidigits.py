# Copyright (c) mmkdwsd authors. All rights reserved.
"""Generate the built-in MultiDigits dataset (COCO format).

Example::

    python tools/generate_multidigits.py --preset small \
        --out-dir data/multidigits_small --seed 0

Any preset value can be overridden (``--num-train 200 --max-digits 6``).
The same seed and settings give byte-identical annotation files.
"""
import argparse
import time

from mmkdwsd.datasets.multidigits import PRESETS, generate_multidigits


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate MultiDigits scenes (COCO instances format).')
    parser.add_argument('--preset', default='small', choices=sorted(PRESETS))
    parser.add_argument('--out-dir', required=True, help='dataset root')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--workers', type=int, default=1, help='worker processes')
    parser.add_argument('--no-progress', action='store_true')
    group = parser.add_argument_group('overrides of the preset')
    for key, value in PRESETS['small'].items():
        flag = '--' + key.replace('_', '-')
        if isinstance(value, tuple):
            group.add_argument(flag, type=int, nargs=2, metavar=('MIN', 'MAX'))
        else:
            group.add_argument(flag, type=type(value))
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    overrides = {key: getattr(args, key) for key in PRESETS['small']}
    start = time.perf_counter()
    paths = generate_multidigits(
        args.out_dir,
        preset=args.preset,
        seed=args.seed,
        workers=args.workers,
        progress=not args.no_progress,
        **overrides)
    for split, path in paths.items():
        print(f'{split}: {path}')
    print(f'done in {time.perf_counter() - start:.1f}s')


if __name__ == '__main__':
    main()
