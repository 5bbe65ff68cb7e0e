# Copyright (c) mmkdwsd authors. All rights reserved.
"""Cache the frozen teacher's soft targets of a split (resumable).

Prediction-level distillation (stage 2) online runs the teacher - a large
input and hundreds of RoIs - on every student step. The teacher is frozen,
so its soft targets ``p'`` can be computed once per image instead, on the
teacher's own test view (fixed size, no flip), and stage 2 then trains at
about the cost of the plain student (``pred_distill.soft_targets='cached'``,
see configs/kdwsd/*stage2-cached*).

CONFIG is a distillation config whose ``model.teacher_ckpt`` is set (here
or with ``--cfg-options``); its temperatures are used. The output defaults
to the ``soft_target_file`` of CONFIG's train dataset. ``--flip`` (the
default where CONFIG sets ``soft_target_cache=dict(flip=True)``) also
computes each image's horizontally flipped view, so that a student trained
with flips learns from the view it sees. Progress is saved to
``OUT.partial``; a killed run restarted with the same command continues.
Example, with CONFIG =
configs/kdwsd/kdwsd-stage2-cached_wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py::

    python tools/cache_soft_targets.py CONFIG \\
        --cfg-options model.teacher_ckpt=work_dirs/demo/teacher/epoch_6.pth
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # the working tree's mmkdwsd, not a stale install

from mmengine.config import Config, DictAction  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Cache a frozen teacher\'s soft targets (resumable).')
    parser.add_argument('config', help='distillation config')
    parser.add_argument(
        '--out',
        help='output .pkl (default: the train dataset\'s soft_target_file)')
    parser.add_argument('--split', default='train')
    parser.add_argument(
        '--proposal-file', help='proposals (default: the config\'s)')
    parser.add_argument(
        '--device', default=None, help='default: cuda if available, else cpu')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument(
        '--save-every', type=int, default=50, help='batches between saves')
    parser.add_argument(
        '--flip',
        action=argparse.BooleanOptionalAction,
        default=None,
        help='also cache the flipped view (default: the config\'s '
        'soft_target_cache.flip)')
    parser.add_argument(
        '--reuse-from',
        metavar='FILE',
        help='a finished soft-target file of the same teacher and settings '
        'whose images (the same names) are not recomputed, e.g. the '
        'smaller pool of mosaic_scenes.py --reuse-from')
    parser.add_argument('--overwrite', action='store_true')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.teacher_ckpt=PATH')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    from mmkdwsd.apis import cache_soft_targets
    from mmkdwsd.apis.soft_targets import cache_flip, default_output
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=True)

    if not osp.isfile(args.config):
        sys.exit(f'config file "{args.config}" does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    out = args.out or default_output(cfg, args.split)
    if not out:
        sys.exit(f'no --out given and the {args.split} dataset of '
                 f'{args.config} sets no soft_target_file')
    if osp.exists(out) and not args.overwrite:
        print(f'{out} exists; nothing to do (--overwrite to redo).')
        return
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    cache_soft_targets(
        cfg,
        out,
        split=args.split,
        proposal_file=args.proposal_file,
        device=device,
        batch_size=args.batch_size,
        num_workers=args.workers,
        save_every=args.save_every,
        progress=not args.no_progress,
        flip=cache_flip(cfg) if args.flip is None else args.flip,
        reuse_from=args.reuse_from)


if __name__ == '__main__':
    main()
