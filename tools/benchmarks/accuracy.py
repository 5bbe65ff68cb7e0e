# Copyright (c) mmkdwsd authors. All rights reserved.
"""Accuracy benchmark of issue 8 on the large MultiDigits preset.

One invocation trains the selected experiments (``--only``) for the
selected seeds, each an MMEngine Runner over a config of
``configs/benchmarks/`` sized for one 10-minute H100 call; ``--aggregate``
reads the finished runs and prints one table (mean +- std over seeds):
mAP, CF1, OF1 (all and top-3) of the students, CorLoc / detection mAP@0.5 of
the teachers, each distilled student's error reduction (100 - mAP) against
the baseline and the share of the resolution gap it recovers
((mAP_kd - mAP_base) / (mAP_ref - mAP_base), where ``reference`` is the same
student at the teacher's resolution), and each run with the refined teacher
(OICR) against the same run with WSDDN seed by seed (``WSDDN_OF``).

Experiments: ``baseline``, ``reference``, ``baseline_noflip`` and
``reference_noflip`` (the two without their horizontal flips: controls),
``teacher_wsddn``,
``teacher_oicr``, ``kd_pred``, ``kd_feat``, ``kd_both`` (WSDDN teacher),
``kd_both_oicr`` (joint single stage), and the staged recipe of the official
release: ``kd_stage1`` (feature level only) then ``kd_staged`` (labels +
prediction level, from ``kd_stage1``'s student) or ``kd_staged_cached``
(the same on soft targets cached once per image, computed on first use), and
``kd_staged_feat`` (stage 2 also keeps the normalised feature level: the
main job's recipe on the CPU demo) and ``kd_staged_feat_cached`` (the same on
cached soft targets: the teacher then runs only for the feature level, on
the regions each step draws); ``kd_staged_cached_t1`` and
``kd_staged_feat_cached_t1`` are the two cached ones with soft targets at
temperature 1 instead of the paper's 0.5 (``t_c = t_d = 1``; each pair of
temperatures has its own soft-target file next to the teacher's checkpoint);
``kd_stage1_oicr`` and ``kd_staged_cached_t1_oicr`` are ``kd_stage1`` and
``kd_staged_cached_t1`` with the OICR teacher. ``kd_pred_cached`` is
``kd_pred`` on cached soft targets (the staged config from a random start),
``kd_pred_cached_flip`` and ``kd_staged_cached_flip`` the same and the
staged one on soft targets cached with the flipped view as well (the
student learns from the view it sees, as from the online teacher), and
``kd_pred_cached_noflip``, ``kd_staged_cached_noflip``,
``kd_feat_noflip`` and ``kd_both_noflip`` ``kd_pred_cached``,
``kd_staged_cached``, ``kd_feat`` and ``kd_both`` without the flips
(measured against ``baseline_noflip`` and, once it is finished,
``reference_noflip``); ``kd_pred_cached_t1_noflip`` is
``kd_pred_cached_noflip`` at temperature 1; ``kd_stage1_noflip`` is
``kd_stage1`` without the flips and ``kd_staged_cached_all_noflip``
``kd_staged_cached_noflip`` from its student (both stages unflipped);
``kd_staged_cached_oicr_noflip`` and ``kd_pred_cached_oicr_noflip`` are
``kd_staged_cached_noflip`` (after ``kd_stage1_oicr``) and
``kd_pred_cached_noflip`` with the OICR teacher, and
``kd_staged_cached_refined_oicr_noflip`` and
``kd_pred_cached_refined_oicr_noflip`` the same two on soft targets from
its refinement streams (``pred_distill.target_source='refined'``) instead
of its WSDDN streams, and ``kd_staged_cached_mixed_oicr_noflip`` the staged
one on the mean of both (``target_source='mixed'``).
``teacher_oicr_graph`` is ``teacher_oicr`` whose refinement streams take
PCL's graph centres as seeds (``refine_seeds=dict(type='graph')``), and
``kd_stage1_oicr_graph`` and ``kd_staged_cached_oicr_graph_noflip``
``kd_stage1_oicr`` and ``kd_staged_cached_oicr_noflip`` with that teacher;
``teacher_oicr_graph1`` takes one graph centre per class (``max_centers=1``).
``teacher_oicr_detach`` is ``teacher_oicr`` whose refinement losses send
no gradient into fc7 and below (``refine_grad_scale=0``).
A teacher starts from the finished ``reference`` run of the same seed (its
backbone, ``load_from``: the stand-in for the paper's ImageNet weights, as
in ``make demo``); ``teacher_wsddn_nfref`` is ``teacher_wsddn`` started
from ``reference_noflip`` instead (the stronger network on these digits,
which a flip changes), and ``kd_pred_cached_t1_nfref_noflip``
``kd_pred_cached_t1_noflip`` distilled from it. A distilled student needs
its teacher of the same seed, both in the same ``--work-dir`` (or
``--teacher-ckpt``). Proposals smaller than 16 px are dropped (digit parts
made WSDDN pick parts; docs/design.md).

The data (``tools/generate_multidigits.py --preset large``) and its
proposals (``tools/generate_proposals.py``, sliding windows by default: the
GPU machine's OpenCV has no ``ximgproc`` for Selective Search) are made on
first use and reused. A finished run (``done.json``) is never retrained; a
run cut short resumes from its last checkpoint when the same command runs
again (one every epoch on the CPU, ``--ckpt-interval``).

Examples::

    python tools/benchmarks/accuracy.py --only baseline reference --seed 0
    python tools/benchmarks/accuracy.py --only teacher_wsddn --seed 0 --amp
    python tools/benchmarks/accuracy.py --only kd_both --seed 0 --amp
    python tools/benchmarks/accuracy.py --aggregate
    # every student at a longer schedule (teachers, stage 1 keep theirs),
    # in a work dir of its own
    python tools/benchmarks/accuracy.py --only baseline reference --seed 0 \
        --student-epochs 60 --work-dir work_dirs/benchmarks/epochs60
    # CPU smoke test: tiny generated set, 1 epoch each
    python tools/benchmarks/accuracy.py --tiny --only baseline --seed 0 \
        --work-dir /tmp/acc --data-root /tmp/md
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Optional

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)  # the checkout's mmkdwsd, not a stale install
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import numpy as np  # noqa: E402

from bench_utils import (base_dataset, device_name, env_line,  # noqa: E402
                         git_commit, markdown_table, write_report)

_B = 'configs/benchmarks/'
_KD = 'resnet18-tiny_resnet18-tiny_1xb64-30e_multidigits-large-64px.py'
#: name -> (config, kind, teacher experiment[, experiment whose student
#: the run starts from: a distilled student's stage 1, or the reference
#: whose backbone a teacher starts from, ``reference`` when not given])
EXPERIMENTS = dict(
    baseline=(_B + 'resnet18-tiny_1xb64-30e_multidigits-large-64px.py',
              'student', None),
    reference=(_B + 'resnet18-tiny_1xb64-30e_multidigits-large-128px.py',
               'student', None),
    baseline_noflip=(
        _B + 'resnet18-tiny_1xb64-30e_multidigits-large-64px-noflip.py',
        'student', None),
    reference_noflip=(
        _B + 'resnet18-tiny_1xb64-30e_multidigits-large-128px-noflip.py',
        'student', None),
    teacher_wsddn=(_B + 'wsddn_resnet18-tiny_1xb16-20e_multidigits-large.py',
                   'teacher', None),
    teacher_wsddn_nfref=(
        _B + 'wsddn_resnet18-tiny_1xb16-20e_multidigits-large.py', 'teacher',
        None, 'reference_noflip'),
    teacher_oicr=(_B + 'oicr_resnet18-tiny_1xb16-20e_multidigits-large.py',
                  'teacher', None),
    teacher_oicr_graph=(
        _B + 'oicr-graph_resnet18-tiny_1xb16-20e_multidigits-large.py',
        'teacher', None),
    teacher_oicr_graph1=(
        _B + 'oicr-graph1_resnet18-tiny_1xb16-20e_multidigits-large.py',
        'teacher', None),
    teacher_oicr_detach=(
        _B + 'oicr-detach_resnet18-tiny_1xb16-20e_multidigits-large.py',
        'teacher', None),
    kd_pred=(_B + 'kdwsd-pred_wsddn-' + _KD, 'kd', 'teacher_wsddn'),
    kd_feat=(_B + 'kdwsd-feat_wsddn-' + _KD, 'kd', 'teacher_wsddn'),
    kd_both=(_B + 'kdwsd_wsddn-' + _KD, 'kd', 'teacher_wsddn'),
    kd_both_oicr=(_B + 'kdwsd_oicr-' + _KD, 'kd', 'teacher_oicr'),
    kd_stage1=(_B + 'kdwsd-stage1_wsddn-' + _KD, 'kd', 'teacher_wsddn'),
    kd_staged=(_B + 'kdwsd-stage2_wsddn-' + _KD, 'kd', 'teacher_wsddn',
               'kd_stage1'),
    kd_staged_cached=(_B + 'kdwsd-stage2-cached_wsddn-' + _KD, 'kd',
                      'teacher_wsddn', 'kd_stage1'),
    kd_staged_feat=(_B + 'kdwsd-stage2-feat_wsddn-' + _KD, 'kd',
                    'teacher_wsddn', 'kd_stage1'),
    kd_staged_feat_cached=(_B + 'kdwsd-stage2-feat-cached_wsddn-' + _KD,
                           'kd', 'teacher_wsddn', 'kd_stage1'),
    kd_staged_cached_t1=(_B + 'kdwsd-stage2-cached-t1_wsddn-' + _KD, 'kd',
                         'teacher_wsddn', 'kd_stage1'),
    kd_staged_feat_cached_t1=(_B + 'kdwsd-stage2-feat-cached-t1_wsddn-' +
                              _KD, 'kd', 'teacher_wsddn', 'kd_stage1'),
    kd_pred_cached=(_B + 'kdwsd-stage2-cached_wsddn-' + _KD, 'kd',
                    'teacher_wsddn'),
    kd_pred_cached_flip=(_B + 'kdwsd-stage2-cached-flip_wsddn-' + _KD, 'kd',
                         'teacher_wsddn'),
    kd_staged_cached_flip=(_B + 'kdwsd-stage2-cached-flip_wsddn-' + _KD,
                           'kd', 'teacher_wsddn', 'kd_stage1'),
    kd_pred_cached_noflip=(_B + 'kdwsd-stage2-cached-noflip_wsddn-' + _KD,
                           'kd', 'teacher_wsddn'),
    kd_staged_cached_noflip=(_B + 'kdwsd-stage2-cached-noflip_wsddn-' + _KD,
                             'kd', 'teacher_wsddn', 'kd_stage1'),
    kd_pred_cached_t1_noflip=(_B + 'kdwsd-stage2-cached-t1-noflip_wsddn-' +
                              _KD, 'kd', 'teacher_wsddn'),
    kd_pred_cached_t1_nfref_noflip=(
        _B + 'kdwsd-stage2-cached-t1-noflip_wsddn-' + _KD, 'kd',
        'teacher_wsddn_nfref'),
    kd_feat_noflip=(_B + 'kdwsd-feat-noflip_wsddn-' + _KD, 'kd',
                    'teacher_wsddn'),
    kd_both_noflip=(_B + 'kdwsd-noflip_wsddn-' + _KD, 'kd', 'teacher_wsddn'),
    kd_stage1_noflip=(_B + 'kdwsd-stage1-noflip_wsddn-' + _KD, 'kd',
                      'teacher_wsddn'),
    kd_staged_cached_all_noflip=(
        _B + 'kdwsd-stage2-cached-noflip_wsddn-' + _KD, 'kd', 'teacher_wsddn',
        'kd_stage1_noflip'),
    kd_stage1_oicr=(_B + 'kdwsd-stage1_oicr-' + _KD, 'kd', 'teacher_oicr'),
    kd_staged_cached_t1_oicr=(_B + 'kdwsd-stage2-cached-t1_oicr-' + _KD,
                              'kd', 'teacher_oicr', 'kd_stage1_oicr'),
    kd_staged_cached_oicr_noflip=(
        _B + 'kdwsd-stage2-cached-noflip_oicr-' + _KD, 'kd', 'teacher_oicr',
        'kd_stage1_oicr'),
    kd_pred_cached_oicr_noflip=(
        _B + 'kdwsd-stage2-cached-noflip_oicr-' + _KD, 'kd', 'teacher_oicr'),
    kd_staged_cached_refined_oicr_noflip=(
        _B + 'kdwsd-stage2-cached-refined-noflip_oicr-' + _KD, 'kd',
        'teacher_oicr', 'kd_stage1_oicr'),
    kd_pred_cached_refined_oicr_noflip=(
        _B + 'kdwsd-stage2-cached-refined-noflip_oicr-' + _KD, 'kd',
        'teacher_oicr'),
    kd_staged_cached_mixed_oicr_noflip=(
        _B + 'kdwsd-stage2-cached-mixed-noflip_oicr-' + _KD, 'kd',
        'teacher_oicr', 'kd_stage1_oicr'),
    kd_stage1_oicr_graph=(_B + 'kdwsd-stage1_oicr-graph-' + _KD, 'kd',
                          'teacher_oicr_graph'),
    kd_staged_cached_oicr_graph_noflip=(
        _B + 'kdwsd-stage2-cached-noflip_oicr-graph-' + _KD, 'kd',
        'teacher_oicr_graph', 'kd_stage1_oicr_graph'))
LABELS = dict(
    baseline='student 64 px, no distillation',
    reference='student 128 px (teacher resolution), no distillation',
    baseline_noflip='student 64 px, no distillation, no flip',
    reference_noflip='student 128 px (teacher resolution), no '
    'distillation, no flip',
    teacher_wsddn='teacher WSDDN 128 px',
    teacher_wsddn_nfref='teacher WSDDN 128 px, from reference_noflip',
    teacher_oicr='teacher OICR 128 px',
    teacher_oicr_graph='teacher OICR 128 px, graph-centre seeds (PCL)',
    teacher_oicr_graph1='teacher OICR 128 px, one graph-centre seed per '
    'class',
    teacher_oicr_detach='teacher OICR 128 px, refinement on fixed features',
    kd_pred='student 64 px, KD prediction level (WSDDN)',
    kd_feat='student 64 px, KD feature level (WSDDN)',
    kd_both='student 64 px, KD both (WSDDN)',
    kd_both_oicr='student 64 px, KD both (OICR)',
    kd_stage1='student 64 px, KD stage 1 only (feature level, no head)',
    kd_staged='student 64 px, KD staged: feature level, then prediction '
    'level (WSDDN)',
    kd_staged_cached='student 64 px, KD staged, stage 2 on cached soft '
    'targets (WSDDN)',
    kd_staged_feat='student 64 px, KD staged, stage 2 keeps the feature '
    'level (WSDDN)',
    kd_staged_feat_cached='student 64 px, KD staged, stage 2 keeps the '
    'feature level, cached soft targets (WSDDN)',
    kd_staged_cached_t1='student 64 px, KD staged, stage 2 on cached soft '
    'targets at T = 1 (WSDDN)',
    kd_staged_feat_cached_t1='student 64 px, KD staged, stage 2 keeps the '
    'feature level, cached soft targets at T = 1 (WSDDN)',
    kd_pred_cached='student 64 px, KD prediction level, cached soft '
    'targets (WSDDN)',
    kd_pred_cached_flip='student 64 px, KD prediction level, cached soft '
    'targets with the flipped view (WSDDN)',
    kd_staged_cached_flip='student 64 px, KD staged, stage 2 on cached soft '
    'targets with the flipped view (WSDDN)',
    kd_pred_cached_noflip='student 64 px, KD prediction level, cached soft '
    'targets, no flip (WSDDN)',
    kd_staged_cached_noflip='student 64 px, KD staged, stage 2 on cached '
    'soft targets, no flip (WSDDN)',
    kd_pred_cached_t1_noflip='student 64 px, KD prediction level, cached '
    'soft targets at T = 1, no flip (WSDDN)',
    kd_pred_cached_t1_nfref_noflip='student 64 px, KD prediction level, '
    'cached soft targets at T = 1, no flip (WSDDN from reference_noflip)',
    kd_feat_noflip='student 64 px, KD feature level, no flip (WSDDN)',
    kd_both_noflip='student 64 px, KD both, no flip (WSDDN)',
    kd_stage1_noflip='student 64 px, KD stage 1 only (feature level, no '
    'head), no flip',
    kd_staged_cached_all_noflip='student 64 px, KD staged, stage 2 on '
    'cached soft targets, no flip in either stage (WSDDN)',
    kd_stage1_oicr='student 64 px, KD stage 1 only (feature level, no head; '
    'OICR)',
    kd_staged_cached_t1_oicr='student 64 px, KD staged, stage 2 on cached '
    'soft targets at T = 1 (OICR)',
    kd_staged_cached_oicr_noflip='student 64 px, KD staged, stage 2 on '
    'cached soft targets, no flip (OICR)',
    kd_pred_cached_oicr_noflip='student 64 px, KD prediction level, cached '
    'soft targets, no flip (OICR)',
    kd_staged_cached_refined_oicr_noflip='student 64 px, KD staged, stage 2 '
    'on cached soft targets of the refinement streams, no flip (OICR)',
    kd_pred_cached_refined_oicr_noflip='student 64 px, KD prediction level, '
    'cached soft targets of the refinement streams, no flip (OICR)',
    kd_staged_cached_mixed_oicr_noflip='student 64 px, KD staged, stage 2 '
    'on cached soft targets, mean of the WSDDN and refinement streams\', no '
    'flip (OICR)',
    kd_stage1_oicr_graph='student 64 px, KD stage 1 only (feature level, no '
    'head; OICR, graph-centre seeds)',
    kd_staged_cached_oicr_graph_noflip='student 64 px, KD staged, stage 2 on '
    'cached soft targets, no flip (OICR, graph-centre seeds)')
#: the baseline and reference a distilled student is measured against,
#: where they are not ``baseline`` and ``reference``: the students without
#: flips (``*_noflip``) against those without flips (the same
#: augmentation; the reference falls back to ``reference`` until its own
#: run is finished)
BASELINE_OF = {
    name: ('baseline_noflip', 'reference_noflip')
    for name, (_, kind, *_) in EXPERIMENTS.items()
    if kind == 'kd' and name.endswith('_noflip')
}
#: the stage-1 runs (those a staged run starts from): feature level only,
#: no head, no labels (their own schedule, no mAP)
STAGE1_RUNS = tuple(
    sorted({spec[3] for spec in EXPERIMENTS.values()
            if spec[1] == 'kd' and len(spec) > 3}))
#: the runs whose student learns the labels: they share one schedule (the
#: baseline's), so that a gain is not a longer schedule's
LABEL_RUNS = tuple(
    name for name, (_, kind, *_) in EXPERIMENTS.items()
    if kind == 'student' or (kind == 'kd' and name not in STAGE1_RUNS))
#: each run with the refined teacher (OICR) and the same run with plain
#: WSDDN: issue 8's second OICR target, compared seed by seed (both
#: teachers of a seed start from the same reference, so the seed's own
#: difference is the comparison; the seeds' spread is mostly the
#: reference's)
WSDDN_OF = dict(
    teacher_oicr='teacher_wsddn',
    teacher_oicr_graph='teacher_wsddn',
    teacher_oicr_graph1='teacher_wsddn',
    teacher_oicr_detach='teacher_wsddn',
    kd_both_oicr='kd_both',
    kd_staged_cached_t1_oicr='kd_staged_cached_t1',
    kd_staged_cached_oicr_noflip='kd_staged_cached_noflip',
    kd_staged_cached_refined_oicr_noflip='kd_staged_cached_noflip',
    kd_staged_cached_mixed_oicr_noflip='kd_staged_cached_noflip',
    kd_pred_cached_oicr_noflip='kd_pred_cached_noflip',
    kd_pred_cached_refined_oicr_noflip='kd_pred_cached_noflip',
    kd_staged_cached_oicr_graph_noflip='kd_staged_cached_noflip')
#: each run with graph-centre seeds and the same run with OICR's own
#: seeds (each class's best region): whether the seeding is what helps,
#: compared seed by seed as ``WSDDN_OF``
OICR_SEEDS_OF = dict(
    teacher_oicr_graph='teacher_oicr',
    teacher_oicr_graph1='teacher_oicr',
    kd_staged_cached_oicr_graph_noflip='kd_staged_cached_oicr_noflip')
#: each refinement on fixed features and OICR's (whose refinement reshapes
#: the features WSDDN's streams see), compared seed by seed as ``WSDDN_OF``
OICR_FEATS_OF = dict(teacher_oicr_detach='teacher_oicr')
COLUMNS = ('mAP', 'CF1', 'OF1', 'CF1_top3', 'OF1_top3', 'CorLoc', 'det_mAP')
DONE = 'done.json'


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected at least 1, got {text}')
    return value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='KD-WSD accuracy benchmark')
    parser.add_argument('--only', nargs='+', choices=list(EXPERIMENTS),
                        help='experiments to train (in this order)')
    parser.add_argument('--seed', type=int, nargs='+', default=[0])
    parser.add_argument('--aggregate', action='store_true',
                        help='print the table of the finished runs')
    parser.add_argument('--work-dir', default='work_dirs/benchmarks/accuracy')
    parser.add_argument('--data-root', default='data/multidigits_large')
    parser.add_argument('--preset', default='large')
    parser.add_argument('--proposal-method', default='windows',
                        choices=['windows', 'ss', 'edgeboxes'])
    parser.add_argument('--workers', type=int,
                        help='dataloader workers (default: the config\'s)')
    parser.add_argument('--data-workers', type=int, default=os.cpu_count(),
                        help='processes that generate data and proposals')
    parser.add_argument('--epochs', type=int, help='override max_epochs')
    parser.add_argument(
        '--student-epochs', type=int,
        help='override max_epochs of the runs that train a student on the '
        'labels (baseline, reference, every kd_* but the stage-1 runs), '
        'leaving the teachers and stage 1 at theirs (or --epochs)')
    parser.add_argument(
        '--teacher-epochs', type=int,
        help='override max_epochs of the teachers (teacher_*)')
    parser.add_argument(
        '--ckpt-interval', type=positive_int,
        help='save a checkpoint every N epochs (the last one always), from '
        'which a run cut short resumes when the same command runs again '
        '(default: every epoch without CUDA, where one run can outlast a '
        'session; only the last epoch on CUDA, whose runs take minutes)')
    parser.add_argument('--amp', action='store_true',
                        help='bf16 autocast (AmpOptimWrapper, CUDA only)')
    parser.add_argument('--teacher-ckpt',
                        help='teacher checkpoint for kd_* (default: the '
                        'finished teacher run of the same seed)')
    parser.add_argument('--num-train', type=int,
                        help='generate this many train scenes (default: '
                        'the preset\'s)')
    parser.add_argument('--num-val', type=int,
                        help='generate this many val scenes')
    parser.add_argument('--prepare-only', action='store_true',
                        help='generate the data and proposals, train nothing')
    parser.add_argument('--tiny', action='store_true',
                        help='smoke test: tiny small-preset data, 1 epoch, '
                        'batch 4, no workers')
    return parser.parse_args(argv)


# ------------------------------------------------------------------ data
def run_tool(cmd) -> None:
    cmd = [sys.executable] + cmd
    print('+ ' + ' '.join(cmd), flush=True)
    env = dict(os.environ, PYTHONPATH=_ROOT + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    subprocess.run(cmd, check=True, cwd=_ROOT, env=env)


def prepare_data(args: argparse.Namespace) -> None:
    """Generate MultiDigits and its proposals where missing."""
    ann = osp.join(args.data_root, 'annotations', 'instances_{}.json')
    if not all(osp.isfile(ann.format(s)) for s in ('train', 'val')):
        extra = ['--num-train', '16', '--num-val', '8'] if args.tiny else []
        for key in ('num_train', 'num_val'):
            if getattr(args, key):
                extra += ['--' + key.replace('_', '-'),
                          str(getattr(args, key))]
        run_tool([
            'tools/generate_multidigits.py', '--preset', args.preset,
            '--out-dir', args.data_root, '--workers',
            str(args.data_workers)
        ] + extra)
    for split in ('train', 'val'):
        out = proposal_file(args, split, absolute=True)
        if not osp.isfile(out):
            run_tool([
                'tools/generate_proposals.py', '--ann-file',
                ann.format(split), '--img-dir',
                osp.join(args.data_root, split), '--out', out, '--method',
                args.proposal_method, '--topk', '500', '--min-size', '16',
                '--workers',
                str(args.data_workers)
            ])
    # the decoded training images the benchmark configs' fast data path
    # reads, once, before concurrent runs (one per seed) would each start
    # decoding them
    from mmkdwsd.datasets import PreDecodedDataset
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    PreDecodedDataset(
        dict(
            type='mmkdwsd.CocoMultiLabelDataset',
            data_root=args.data_root + '/',
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            pipeline=[]))


def proposal_file(args, split: str, absolute: bool = False) -> str:
    rel = f'proposals/{args.proposal_method}_{split}.pkl'
    return osp.join(args.data_root, rel) if absolute else rel


# ---------------------------------------------------------------- training
def read_done(work_dir: str):
    from mmkdwsd.utils import read_done_marker
    return read_done_marker(osp.join(work_dir, DONE))


def build_cfg(args, name: str, seed: int, work_dir: str):
    from mmengine.config import Config

    from mmkdwsd.apis import check_soft_target_file
    from mmkdwsd.datasets import SoftTargetError
    config, kind, teacher = EXPERIMENTS[name][:3]
    cfg = Config.fromfile(osp.join(_ROOT, config))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader is None:
            continue
        dataset = base_dataset(loader)
        dataset.data_root = args.data_root + '/'
        if dataset.get('proposal_file'):
            split = 'train' if key == 'train_dataloader' else 'val'
            dataset.proposal_file = proposal_file(args, split)
        if args.tiny:
            loader.batch_size = 4
        if not _cuda():  # nothing to pin for
            loader.pin_memory = False
        workers = 0 if args.tiny else args.workers
        if workers is not None:
            loader.num_workers = workers
            loader.persistent_workers = workers > 0
    epochs = args.epochs
    if args.student_epochs and name in LABEL_RUNS:
        epochs = args.student_epochs
    if args.teacher_epochs and kind == 'teacher':
        epochs = args.teacher_epochs
    if args.tiny:
        epochs = 1
    if epochs:
        cfg.train_cfg.max_epochs = epochs
        cfg.train_cfg.val_interval = epochs
        cfg.default_hooks.checkpoint.interval = epochs
        for sched in cfg.get('param_scheduler') or []:
            if sched.get('by_epoch', True):
                for key in ('end', 'T_max'):
                    if key in sched:
                        sched[key] = epochs
    interval = args.ckpt_interval or (None if _cuda() else 1)
    if interval:
        cfg.default_hooks.checkpoint.interval = interval
    if args.tiny:
        cfg.default_hooks.logger.interval = 1
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'
    start = EXPERIMENTS[name][3] if len(EXPERIMENTS[name]) > 3 else None
    if kind == 'teacher':  # the backbone of a finished reference run
        cfg.load_from = finished_checkpoint(args, start or 'reference', seed)
    if kind == 'kd':
        cfg.model.teacher_ckpt = (
            osp.abspath(args.teacher_ckpt) if args.teacher_ckpt else
            finished_checkpoint(args, teacher, seed, '--teacher-ckpt'))
    if kind == 'kd' and start:  # staged: the student of an earlier run
        cfg.model.student.init_cfg = dict(
            type='Pretrained',
            checkpoint=finished_checkpoint(args, start, seed),
            prefix='student.')
    train_set = base_dataset(cfg.train_dataloader)
    if train_set.get('soft_target_file'):
        train_set.soft_target_file = soft_targets(args, cfg, teacher, seed)
        try:  # a file cached earlier at other temperatures or views
            check_soft_target_file(cfg)
        except SoftTargetError as err:
            raise SoftTargetError(
                f'{err} [{name} seed {seed}: move the file away and '
                'accuracy.py recomputes it]') from None
    return cfg


def soft_target_name(cfg) -> str:
    """File name of the soft targets at the config's temperatures and
    views: ``soft_targets.pkl`` at the paper's t_c = t_d = 0.5, else
    ``soft_targets_tc{t_c}_td{t_d}.pkl`` (``soft_targets_tc1_td1.pkl``);
    ``_flip`` before ``.pkl`` with the flipped view
    (``soft_target_cache=dict(flip=True)``); ``soft_targets_refined.pkl``
    from an OICR teacher's refinement streams (``target_source``: no
    temperatures), ``soft_targets_mixed.pkl`` (``_tc.._td..`` as above)
    from both."""
    from mmkdwsd.apis.soft_targets import (cache_flip, pred_temperatures,
                                           target_source)
    pred = cfg.model.get('pred_distill')
    temps = tuple(pred_temperatures(pred).values())  # none for 'refined'
    source = target_source(pred)
    name = 'soft_targets' + ('' if source == 'wsddn' else f'_{source}')
    if temps and temps != (0.5, 0.5):
        name += '_tc{:g}_td{:g}'.format(*temps)
    return name + ('_flip' if cache_flip(cfg) else '') + '.pkl'


def soft_targets(args, cfg, teacher: str, seed: int) -> str:
    """The cached soft targets of ``teacher``'s run of ``seed`` at the
    config's temperatures (computed on first use, next to that run's
    checkpoint, one file per pair of temperatures; runs started side by side
    that need them wait for the one computing them, under a file lock)."""
    import fcntl

    import torch

    from mmkdwsd.apis import cache_soft_targets
    from mmkdwsd.apis.soft_targets import cache_flip
    out = osp.join(
        osp.dirname(cfg.model.teacher_ckpt), soft_target_name(cfg))
    with open(out + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not osp.isfile(out):
            print(f'[{teacher} seed {seed}] caching soft targets in {out}',
                  flush=True)
            cache_soft_targets(
                cfg,
                out,
                proposal_file=proposal_file(args, 'train'),
                device='cuda' if torch.cuda.is_available() else 'cpu',
                batch_size=cfg.train_dataloader.batch_size,
                num_workers=cfg.train_dataloader.num_workers,
                flip=cache_flip(cfg))
    return out


def finished_checkpoint(args,
                        name: str,
                        seed: int,
                        alternative: str = '') -> str:
    """Checkpoint of the finished run ``name`` of ``seed``."""
    run_dir = osp.join(args.work_dir, name, f'seed{seed}')
    done = read_done(run_dir)
    if done is not None and not osp.isfile(done['checkpoint']):
        # a run carried over from another machine: same folder, other root
        done['checkpoint'] = osp.join(run_dir,
                                      osp.basename(done['checkpoint']))
    if done is None or not osp.isfile(done['checkpoint']):
        raise FileNotFoundError(
            f'no finished {name} run for seed {seed} in {args.work_dir}: '
            f'run `--only {name} --seed {seed}` first' +
            (f', or pass {alternative}' if alternative else ''))
    return done['checkpoint']


def train_one(args, name: str, seed: int) -> dict:
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    work_dir = osp.join(args.work_dir, name, f'seed{seed}')
    done = read_done(work_dir)
    if done is not None:
        print(f'[{name} seed {seed}] finished earlier '
              f'({done.get("epochs", "?")} epochs; a run of another '
              'schedule needs another --work-dir)', flush=True)
        return done
    cfg = build_cfg(args, name, seed, work_dir)
    from mmkdwsd.compat import find_latest_checkpoint

    # also after a kill before the first `last_checkpoint` was written
    cfg.resume = find_latest_checkpoint(work_dir, warn=False) is not None
    if cfg.resume:
        cfg.load_from = None  # resume from the run's own checkpoint

    class Recorder(Hook):
        priority = 'LOWEST'
        metrics = {}

        def after_val_epoch(self, runner, metrics=None):
            Recorder.metrics = {k: float(v) for k, v in
                                (metrics or {}).items()}

    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(Recorder())
    runner.train()
    if not Recorder.metrics and cfg.get('val_dataloader') is not None:
        runner.val()  # resumed after the last epoch: no validation ran
    epochs = cfg.train_cfg.max_epochs
    done = dict(
        experiment=name, seed=seed, config=EXPERIMENTS[name][0],
        checkpoint=osp.join(work_dir, f'epoch_{epochs}.pth'),
        metrics=Recorder.metrics, epochs=epochs,
        # of this invocation only, when it resumed a cut run
        seconds=round(time.perf_counter() - start, 1), resumed=cfg.resume,
        commit=git_commit(), amp=args.amp, tiny=args.tiny,
        device=device_name('cuda' if _cuda() else 'cpu'),
        proposal_method=args.proposal_method,
        date=time.strftime('%Y-%m-%d'))
    write_report(json.dumps(done, indent=1), osp.join(work_dir, DONE))
    print(f'[{name} seed {seed}] {done["seconds"]} s: '
          f'{pick(done["metrics"], EXPERIMENTS[name][1])}', flush=True)
    return done


# --------------------------------------------------------------- aggregate
def pick(metrics: dict, kind: str) -> dict:
    """Metric values by their last name (the student's for kd runs)."""
    out = {}
    for key, value in metrics.items():
        head, _, tail = key.rpartition('/')
        if kind == 'kd' and head != 'student':
            continue
        out[tail] = value
    return out


def _stat(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), std


def aggregate(args) -> str:
    from mmkdwsd.utils import read_done_marker
    runs = {}
    for path in sorted(glob.glob(osp.join(args.work_dir, '*', 'seed*',
                                          DONE))):
        done = read_done_marker(path)
        if done is None or 'experiment' not in done:
            print(f'skipped {path}: not a readable done-marker', flush=True)
            continue
        runs.setdefault(done['experiment'], []).append(done)
    stats, rows = {}, []
    for name in EXPERIMENTS:
        if name not in runs:
            continue
        kind = EXPERIMENTS[name][1]
        values = [pick(r['metrics'], kind) for r in runs[name]]
        stats[name] = {c: _stat([v.get(c) for v in values]) for c in COLUMNS}
        cells = []
        for c in COLUMNS:
            mean, std = stats[name][c]
            show = kind == 'teacher' or c not in ('CorLoc', 'det_mAP')
            cells.append(f'{mean:.1f} ± {std:.1f}'
                         if show and mean is not None else '-')
        seeds = ','.join(str(r['seed']) for r in runs[name])
        rows.append([LABELS[name], seeds, _epochs(runs[name])] + cells)
    header = ['model', 'seeds', 'epochs'] + [
        c.replace('_top3', ' (top-3)').replace('det_mAP', 'det mAP@0.5')
        for c in COLUMNS
    ]
    text = '## Accuracy on MultiDigits\n\n' + markdown_table(header, rows)
    text += '\n\n' + gains_table(stats, runs)
    for paired in (paired_table(runs),
                   paired_table(runs, OICR_SEEDS_OF,
                                ('graph seeds', 'OICR seeds'),
                                'Graph-centre seeds against OICR\'s'),
                   paired_table(runs, OICR_FEATS_OF,
                                ('fixed features', 'OICR'),
                                'Refinement on fixed features against '
                                'OICR\'s')):
        if paired:
            text += '\n\n' + paired
    schedules = {_epochs(runs[name]) for name in LABEL_RUNS if name in runs}
    if len(schedules) > 1:
        text += ('\n\n**Warning: the students trained on the labels had '
                 f'different schedules ({", ".join(sorted(schedules))} '
                 'epochs): a difference from the baseline may be the '
                 'schedule\'s (rerun with --student-epochs).**')
    commits = sorted({r.get('commit', '?') for rs in runs.values()
                      for r in rs})
    dates = sorted({r.get('date', '?') for rs in runs.values() for r in rs})
    devices = sorted({r.get('device', '?') for rs in runs.values()
                      for r in rs})
    text += (f'\n\nRuns from commit(s) {", ".join(commits) or "-"}, '
             f'date(s) {", ".join(dates) or "-"}, device(s) '
             f'{", ".join(devices) or "-"}; aggregated by: '
             f'{env_line(args, "cuda" if _cuda() else "cpu")}\n')
    write_report(text, osp.join(args.work_dir, 'accuracy.md'))
    return text


def _epochs(runs: list) -> str:
    """The epochs of one experiment's runs ('30', or '30/60' if mixed)."""
    return '/'.join(
        sorted({str(r.get('epochs', '?'))
                for r in runs}, key=lambda e: (len(e), e)))


def _map_by_seed(runs: dict, name: str, metric: str = 'mAP') -> dict:
    """{seed: student mAP (or another metric)} of one experiment's
    finished runs."""
    kind = EXPERIMENTS[name][1]
    out = {}
    for run in runs.get(name, []):
        value = pick(run['metrics'], kind).get(metric)
        if value is not None and math.isfinite(value):
            out[run['seed']] = value
    return out


def gains_table(stats: dict, runs: dict) -> str:
    """Error reduction and share of the resolution gap of each KD run.

    The gap is given between the seed means and seed by seed (each seed's
    distilled student against its own seed's baseline and reference: the
    reference varies with the seed too). The gain is compared with twice
    the larger seed standard deviation (of the run or of the baseline) only
    when both have two seeds or more.
    """
    rows = []
    for name in EXPERIMENTS:
        baseline, reference = BASELINE_OF.get(name, ('baseline', 'reference'))
        if reference not in stats:
            reference = 'reference'
        base = stats.get(baseline, {}).get('mAP', (None, None))
        if (EXPERIMENTS[name][1] != 'kd' or name in STAGE1_RUNS
                or name not in stats or base[0] is None):
            continue
        ref = stats.get(reference, {}).get('mAP', (None, None))
        base_seeds = _map_by_seed(runs, baseline)
        ref_seeds = _map_by_seed(runs, reference)
        mean, std = stats[name]['mAP']
        gain = mean - base[0]
        err = 100 * gain / (100 - base[0]) if base[0] < 100 else float('nan')
        gap = (100 * gain / (ref[0] - base[0])
               if ref[0] is not None and ref[0] != base[0] else float('nan'))
        per_seed = [
            f'{100 * (m - base_seeds[s]) / (ref_seeds[s] - base_seeds[s]):.0f}'
            for s, m in sorted(_map_by_seed(runs, name).items())
            if s in base_seeds and s in ref_seeds
            and ref_seeds[s] != base_seeds[s]
        ]
        if min(len(runs[name]), len(runs[baseline])) < 2:
            noise = 'n/a (one seed)'
        else:
            bound = 2 * max(std, base[1])
            noise = (f'{"yes" if gain > bound else "no"} '
                     f'({gain:.1f} vs {bound:.1f})')
        rows.append([
            LABELS[name], f'{gain:+.1f}', f'{err:.1f}%',
            f'{gap:.0f}%' if math.isfinite(gap) else 'n/a (no reference)',
            ' / '.join(per_seed) + '%' if per_seed else '-', noise,
            f'{baseline}, {reference}'
        ])
    header = ['distilled student', 'mAP gain', 'error reduction (target '
              '>= 13%)', 'resolution gap recovered (target >= 90%)',
              'gap recovered per seed', 'gain > 2 std', 'against']
    return markdown_table(header, rows)


def paired_table(runs: dict,
                 pairs: Optional[dict] = None,
                 names: tuple = ('OICR', 'WSDDN'),
                 title: str = 'The refined teacher (OICR) against WSDDN'
                 ) -> str:
    """Each OICR run against the same run with WSDDN, seed by seed (or the
    runs of ``pairs``, ``{run: the run it is compared with}``, whose kinds
    of run ``names`` calls (ours, theirs), under ``title``).

    The teachers are compared on CorLoc and detection mAP@0.5, the
    students on mAP, on the seeds both runs finished: the difference per
    seed, its mean and standard deviation, how many seeds OICR is ahead
    at, and the 95% confidence interval of the mean difference (Student's
    t with seeds - 1 degrees of freedom: a paired comparison, which the
    seeds' spread of each run alone overstates). Empty when no pair has a
    common seed.
    """
    from scipy import stats as scipy_stats
    rows = []
    ours_name, theirs_name = names
    for name, other in (WSDDN_OF if pairs is None else pairs).items():
        metrics = (('CorLoc', 'det_mAP') if EXPERIMENTS[name][1] == 'teacher'
                   else ('mAP', ))
        for metric in metrics:
            ours = _map_by_seed(runs, name, metric)
            theirs = _map_by_seed(runs, other, metric)
            seeds = sorted(set(ours) & set(theirs))
            if not seeds:
                continue
            diffs = [ours[s] - theirs[s] for s in seeds]
            mean, std = _stat(diffs)
            if len(diffs) < 2:
                interval = 'n/a (one seed)'
            else:
                half = (scipy_stats.t.ppf(0.975, len(diffs) - 1) * std /
                        math.sqrt(len(diffs)))
                verdict = (f'{ours_name} ahead' if mean - half > 0 else
                           f'{theirs_name} ahead' if mean + half < 0 else
                           'includes 0')
                interval = (f'[{mean - half:+.1f}, {mean + half:+.1f}] '
                            f'({verdict})')
            rows.append([
                LABELS[name], other,
                metric.replace('det_mAP', 'det mAP@0.5'),
                ','.join(str(s) for s in seeds),
                ' / '.join(f'{d:+.1f}' for d in diffs),
                f'{mean:+.1f} ± {std:.1f}',
                f'{sum(d > 0 for d in diffs)} of {len(diffs)}', interval
            ])
    if not rows:
        return ''
    header = [f'{ours_name} run', f'against ({theirs_name})', 'metric',
              'seeds', 'difference per seed', 'mean ± std',
              f'{ours_name} ahead at', '95% interval of the mean']
    return f'### {title}, seed by seed\n\n' + markdown_table(header, rows)


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def main(argv=None) -> None:
    args = parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    if args.teacher_ckpt:
        args.teacher_ckpt = osp.abspath(args.teacher_ckpt)
    os.chdir(_ROOT)  # configs name files relative to the repository
    if args.prepare_only:
        prepare_data(args)
        return
    if args.only:
        from mmkdwsd.utils import register_all_modules
        register_all_modules(init_default_scope=False)
        prepare_data(args)
        for seed in args.seed:
            for name in args.only:
                train_one(args, name, seed)
    if args.aggregate or not args.only:
        print('\n' + aggregate(args), flush=True)


if __name__ == '__main__':
    main()
