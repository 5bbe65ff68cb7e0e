# Copyright (c) mmkdwsd authors. All rights reserved.
"""Operations per training step, per stage (the small-model overhead).

On a GPU every top-level ATen operation is (at least) one kernel launch of
a few microseconds of host time. The MultiDigits benchmark students take a
few milliseconds per step, so a stage that adds hundreds of small operations
per step (per-image Python loops over 64 images) is slower than its FLOPs
say; issue 8 measured that as missed step-time ratios. This script counts
the top-level ATen operations (those not called from another ATen
operation; the backward's included) of one training step of each stage of
``speed.py``'s ``train`` section, with the same models, inputs and
distiller settings, and times the step on the CPU. The counts do not depend
on the device or the image sizes, so the default shrinks the images
(``--size-scale``) to keep the run short.

    python tools/benchmarks/step_ops.py [--setting multidigits] [--batch 64]
"""
import argparse
import os
import os.path as osp
import sys

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from bench_utils import (env_line, markdown_table, median_time,  # noqa: E402
                         top_level_ops)
from speed import (STAGE1_TEACHER_ALL, Bench, _step,  # noqa: E402
                   build_distiller)


def measure(fn, repeats: int):
    """(top-level ATen ops of one call, median CPU seconds)."""
    fn()  # warm-up (lazy init, optimizer state)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return top_level_ops(prof), median_time(fn, 'cpu', 0, repeats)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--setting', default='multidigits',
                        choices=['paper', 'multidigits', 'demo'])
    parser.add_argument('--batch', type=int,
                        help='images per step (default: the setting\'s)')
    parser.add_argument('--size-scale', type=float, default=0.25,
                        help='image sizes times this (counts do not depend '
                        'on it; times do)')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--top', type=int, default=0,
                        help='also print each step\'s N most frequent '
                        'operations')
    parser.add_argument('--stages', nargs='+',
                        default=['baseline', 'teacher', 'teacher forward',
                                 'teacher-oicr', 'stage1', 'stage1-sampled',
                                 STAGE1_TEACHER_ALL, 'stage2',
                                 'stage2-feat', 'stage2-cached'])
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    os.chdir(_ROOT)
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    b = Bench(argparse.Namespace(device='cpu', tiny=False,
                                 setting=args.setting, warmup=0, repeats=1,
                                 out=None))
    s = b.s
    for key in ('student_size', 'teacher_size'):
        s[key] = max(32, int(s[key] * args.size_scale) // 32 * 32)
    batch = s['train_batch'] = args.batch or s['train_batch']
    # foreach: one operation per parameter group, as on CUDA by default
    sgd = dict(lr=1e-4, momentum=0.9, foreach=True)
    xs, ss = b.student_inputs(batch)
    xt, st = b.teacher_inputs(batch)
    if any(stage.endswith('-cached') for stage in args.stages):
        for sample in ss:  # what the cached stages read
            sample.set_field(torch.rand(s['num_classes']), 'soft_target')
    rows = []
    for stage in args.stages:
        if stage == 'baseline':
            model = b.build(b.model_cfg('student'))
            loss = (lambda m=model: m.loss(xs, ss))
        elif stage in ('teacher', 'teacher-oicr'):
            cfg = b.model_cfg('teacher')
            if stage == 'teacher-oicr':  # the benchmark's OICR teacher
                cfg.roi_head.bbox_head.num_refine = 3
            model = b.build(cfg)
            loss = (lambda m=model: m.loss(xt, st))
        else:
            model = build_distiller(
                b, 'stage1' if stage == 'teacher forward' else stage)
            if stage == 'teacher forward':
                fn = (lambda m=model: m.get_teacher_outputs(xt, st))
            elif stage == 'stage2-cached':  # the student view alone
                loss = (lambda m=model: m.loss(xs, ss))
            else:
                loss = (lambda m=model: m.loss(
                    dict(teacher=xt, student=xs),
                    dict(teacher=st, student=ss)))
        model.train()
        if stage != 'teacher forward':
            opt = torch.optim.SGD(
                [p for p in model.parameters() if p.requires_grad], **sgd)
            fn = _step(model, opt, loss, False, b)
        names, seconds = measure(fn, args.repeats)
        ops = sum(names.values())
        rows.append([stage, f'{ops:,}', f'{ops / batch:.1f}',
                     f'{seconds * 1e3:.0f}'])
        print(f'{stage}: {ops} ops, {seconds * 1e3:.0f} ms', flush=True)
        if args.top:
            print('  ' + ', '.join(f'{name} {n}' for name, n in
                                   names.most_common(args.top)), flush=True)
        del model
    print(f'\n{args.setting} setting ({s["proposals"]} proposals, '
          f'{s["sampled"]} sampled), batch {batch}, images scaled by '
          f'{args.size_scale} (student {s["student_size"]} px, teacher '
          f'{s["teacher_size"]} px), CPU, {args.threads} thread(s)\n')
    print(markdown_table(['step', 'top-level ATen ops', 'per image',
                          'CPU ms (median)'], rows))
    print('\n' + env_line(None, 'cpu'))


if __name__ == '__main__':
    main()
