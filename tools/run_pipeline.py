# Copyright (c) mmkdwsd authors. All rights reserved.
"""Run the whole KD-WSD pipeline (the README's main job).

generate data (if missing) -> proposals (if missing) -> the student network
trained at the teacher's resolution (the upper reference, and the teacher's
backbone pretraining) -> teacher (WSDDN, backbone from that classifier) ->
student baseline (no distillation) -> distillation stage 1 (feature level)
-> stage 2 (labels + prediction level, keeping the feature level with its
normalised loss: ``kdwsd-stage2-feat``; with ``--cached-soft-targets`` the
official stage 2, labels + prediction level, on soft targets the teacher
computed once per image first, faster but about 4 mAP lower here) ->
student export; then one table:
student without distillation, student at the teacher's resolution, teacher,
distilled student, and the share of the resolution gap distillation
recovered.

Each training stage is an MMEngine Runner in this process, in its own folder
under ``--work-dir``. A stage is finished when its final checkpoint and its
done-marker (``done.json``, written atomically after training) exist;
finished stages are never retrained. Run the same command again after an
interruption: it resumes at the first unfinished stage (from that stage's
latest checkpoint). Example::

    python tools/run_pipeline.py --work-dir work_dirs/demo
"""
import argparse
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # the working tree's mmkdwsd, not a stale install

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmkdwsd.apis import cache_soft_targets, export_student  # noqa: E402
from mmkdwsd.compat import find_latest_checkpoint  # noqa: E402
from mmkdwsd.utils.fileio import atomic_dump_json  # noqa: E402
from mmkdwsd.utils.fileio import atomic_write_text  # noqa: E402
from mmkdwsd.utils.fileio import read_done_marker  # noqa: E402

TAIL = 'wsddn-resnet18-tiny_resnet18-tiny_1xb8-12e_multidigits-32px.py'
CONFIGS = dict(
    reference='configs/mlc/resnet18-tiny_1xb8-12e_multidigits-64px.py',
    teacher='configs/wsddn/wsddn_resnet18-tiny_1xb8-6e_multidigits.py',
    baseline='configs/mlc/resnet18-tiny_1xb8-12e_multidigits-32px.py',
    stage1=f'configs/kdwsd/kdwsd-stage1_{TAIL}',
    stage2=f'configs/kdwsd/kdwsd-stage2-feat_{TAIL}',
    stage2_cached=f'configs/kdwsd/kdwsd-stage2-cached_{TAIL}')
COLUMNS = ('mAP', 'CF1', 'OF1', 'CF1_top3', 'OF1_top3', 'CorLoc', 'det_mAP')
#: Selective-search boxes smaller than this (px, in the 128 px scenes) are
#: dropped: digits are at least 28 px, and small boxes (digit parts) made
#: WSDDN pick parts (CorLoc 0 with them, 80 without; docs/design.md).
PROPOSAL_MIN_SIZE = 16
DONE = 'done.json'


class MetricsRecorder(Hook):
    """Keeps the metrics of the last validation."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.metrics: Dict[str, float] = {}

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.metrics = {k: float(v) for k, v in (metrics or {}).items()}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/multidigits_small')
    parser.add_argument('--preset', default='small')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch threads (1: robust on small shared CPUs)')
    parser.add_argument(
        '--workers', type=int, default=1, help='dataloader workers')
    parser.add_argument(
        '--proposal-workers', type=int, default=2, help='proposal processes')
    parser.add_argument(
        '--no-progress',
        action='store_true',
        help='no progress of data generation, proposals and soft targets')
    parser.add_argument(
        '--cached-soft-targets',
        action='store_true',
        help='stage 2 on soft targets the teacher computed once per image '
        '(tools/cache_soft_targets.py) instead of running it every step; '
        'its stages are soft_targets/ and stage2-cached/')
    for key, path in CONFIGS.items():
        parser.add_argument(
            f'--{key.replace("_", "-")}-config', dest=f'{key}_config',
            default=path)
    return parser.parse_args()


def run_tool(args: List[str]) -> None:
    """Run one of the data tools in a subprocess (fails loudly)."""
    cmd = [sys.executable] + args
    print('+ ' + ' '.join(cmd), flush=True)
    env = dict(
        os.environ,
        PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def prepare_data(args: argparse.Namespace) -> Dict[str, dict]:
    """Generate MultiDigits and its proposals where missing."""
    results = {}
    start = time.perf_counter()
    # progress of the data tools: a bar on a terminal, plain lines in logs
    quiet = ['--no-progress'] if args.no_progress else []
    ann = osp.join(args.data_root, 'annotations', 'instances_{}.json')
    if all(osp.isfile(ann.format(s)) for s in ('train', 'val')):
        results['data'] = dict(status='found')
    else:
        run_tool([
            'tools/generate_multidigits.py', '--preset', args.preset,
            '--out-dir', args.data_root, '--seed',
            str(args.seed)
        ] + quiet)
        results['data'] = dict(
            status='generated', seconds=round(time.perf_counter() - start, 1))
    start = time.perf_counter()
    results['proposals'] = dict(status='found')
    for split in ('train', 'val'):
        out = osp.join(args.data_root, 'proposals', f'ss_{split}.pkl')
        if osp.isfile(out):
            continue
        run_tool([
            'tools/generate_proposals.py', '--ann-file',
            ann.format(split), '--img-dir',
            osp.join(args.data_root, split), '--out', out, '--method', 'ss',
            '--topk', '500', '--min-size',
            str(PROPOSAL_MIN_SIZE), '--workers',
            str(args.proposal_workers)
        ] + quiet)
        results['proposals'] = dict(
            status='generated', seconds=round(time.perf_counter() - start, 1))
    return results


def load_cfg(path: str,
             work_dir: str,
             args: argparse.Namespace,
             options: Optional[dict] = None) -> Config:
    """A stage's config with the pipeline's data root, workers and seed."""
    cfg = Config.fromfile(
        osp.join(ROOT, path) if not osp.isabs(path) else path)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=args.seed)
    data_root = osp.abspath(args.data_root) + '/'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader is None:
            continue
        loader.dataset.data_root = data_root
        loader.num_workers = args.workers
        loader.persistent_workers = args.workers > 0
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=1)
    if cfg.get('visualizer') is not None:
        # MMEngine keeps one Visualizer per name in the process: with the
        # config's shared name every later stage would log its scalars into
        # the first stage's vis_data/
        cfg.visualizer.name = (f'visualizer_{osp.basename(work_dir)}_'
                               f'{time.time_ns()}')
    if options:
        cfg.merge_from_dict(options)
    return cfg


def final_checkpoint(cfg: Config) -> str:
    return osp.join(cfg.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')


def read_done(work_dir: str) -> Optional[dict]:
    """The done-marker of a finished stage (None if unfinished)."""
    done = read_done_marker(osp.join(work_dir, DONE))
    if done is None or not osp.isfile(str(done.get('checkpoint', ''))):
        return None
    return done


def check_classes(runner: Runner) -> None:
    """Dataset, teacher and student class counts must agree (before the
    first iteration)."""
    classes = runner.train_dataloader.dataset.metainfo.get('classes')
    if classes is None:
        return
    model = runner.model
    if hasattr(model, 'check_dataset_classes'):
        model.check_dataset_classes(classes)
        return
    for module in model.modules():
        count = getattr(module, 'num_classes', None)
        if isinstance(count, int):
            if count != len(classes):
                raise ValueError(f'{runner.cfg.filename}: the model predicts '
                                 f'{count} classes, the dataset has '
                                 f'{len(classes)}')
            return


def train_stage(name: str, cfg: Config) -> dict:
    """Train one stage (resuming it if it was interrupted)."""
    done = read_done(cfg.work_dir)
    if done is not None:
        print(f'[{name}] finished earlier: {done["checkpoint"]}', flush=True)
        return dict(done, status='done earlier')
    start = time.perf_counter()
    # also after a kill before the first `last_checkpoint` was written
    cfg.resume = find_latest_checkpoint(cfg.work_dir, warn=False) is not None
    if cfg.resume:
        cfg.load_from = None  # resume from the stage's own latest checkpoint
    source = osp.relpath(cfg.filename, ROOT) if cfg.filename else 'config'
    print(
        f'[{name}] training {source} in '
        f'{cfg.work_dir}' + (' (resuming)' if cfg.resume else ''),
        flush=True)
    runner = Runner.from_cfg(cfg)
    recorder = MetricsRecorder()
    runner.register_hook(recorder)
    check_classes(runner)
    runner.train()
    if not recorder.metrics and cfg.get('val_dataloader') is not None:
        runner.val()  # resumed after the last epoch: no validation ran
    ckpt = final_checkpoint(cfg)
    if not osp.isfile(ckpt):
        raise FileNotFoundError(f'[{name}] no final checkpoint {ckpt}')
    done = dict(
        checkpoint=ckpt,
        metrics=recorder.metrics,
        seconds=round(time.perf_counter() - start, 1))
    atomic_dump_json(done, osp.join(cfg.work_dir, DONE))
    return dict(done, status='trained')


def soft_target_stage(cfg: Config, work_dir: str,
                      progress: bool = True) -> dict:
    """Cache the frozen teacher's soft targets of the train split (the
    tool resumes from its partial file after an interruption)."""
    done = read_done(work_dir)
    if done is not None:
        return dict(done, status='done earlier')
    start = time.perf_counter()
    out = osp.join(work_dir, 'train.pkl')
    print(f'[soft_targets] caching the teacher\'s soft targets in {out}',
          flush=True)
    cache_soft_targets(
        cfg,
        out,
        device='cuda' if torch.cuda.is_available() else 'cpu',
        num_workers=cfg.train_dataloader.num_workers,
        progress=progress)
    done = dict(
        checkpoint=out,
        metrics={},
        seconds=round(time.perf_counter() - start, 1))
    atomic_dump_json(done, osp.join(work_dir, DONE))
    return dict(done, status='computed')


def export_stage(cfg: Config, ckpt: str, work_dir: str) -> dict:
    done = read_done(work_dir)
    if done is not None:
        return dict(done, status='done earlier')
    start = time.perf_counter()
    path, cfg_path = export_student(cfg, ckpt, work_dir)
    done = dict(
        checkpoint=path,
        config=cfg_path,
        metrics={},
        seconds=round(time.perf_counter() - start, 1))
    atomic_dump_json(done, osp.join(work_dir, DONE))
    return dict(done, status='exported')


def pick(metrics: dict, prefix: Optional[str]) -> Dict[str, float]:
    """Metric values of one model (``prefix/name`` or bare ``name``)."""
    out = {}
    for key, value in metrics.items():
        head, _, tail = key.rpartition('/')
        if (head or None) == prefix or (prefix is None and not head):
            out[tail] = value
    return out


def teacher_name(config: str) -> str:
    """'OICR' or 'WSDDN', from the teacher config's file name."""
    return 'OICR' if osp.basename(config).startswith('oicr') else 'WSDDN'


def results_table(results: dict, args: argparse.Namespace) -> str:
    """The markdown tables of models and stage timings."""
    s2 = results['stage2']['metrics']
    baseline = pick(results['baseline']['metrics'], None)
    reference = pick(results['reference']['metrics'], None)
    distilled = pick(s2, 'student')
    teacher_cfg = getattr(args, 'teacher_config', CONFIGS['teacher'])
    rows = [('student, no distillation', '32 px', baseline),
            ('student at the teacher\'s resolution, no distillation',
             '64 px', reference),
            (f'teacher ({teacher_name(teacher_cfg)}, frozen)',
             '64 px',
             pick(results['teacher']['metrics'], None)),
            ('student, distilled (KD-WSD)', '32 px', distilled)]
    names = dict(CF1_top3='CF1 (top-3)', OF1_top3='OF1 (top-3)',
                 det_mAP='det mAP@0.5')
    lines = [
        '| model | input | '
        + ' | '.join(names.get(c, c) for c in COLUMNS) + ' |',
        '|---|---|' + '---|' * len(COLUMNS)
    ]
    for name, size, metrics in rows:
        cells = [f'{metrics[c]:.1f}' if c in metrics else '-' for c in COLUMNS]
        lines.append(f'| {name} | {size} | ' + ' | '.join(cells) + ' |')
    gap = reference.get('mAP', 0.0) - baseline.get('mAP', 0.0)
    if 'mAP' in distilled and gap > 0:
        gain = distilled['mAP'] - baseline['mAP']
        error_cut = 100 * gain / (100 - baseline['mAP'])
        lines += [
            '', f'Distillation: {gain:+.1f} mAP over the baseline (error '
            f'cut by {error_cut:.0f}%), {100 * gain / gap:.0f}% of the '
            f'{gap:.1f} mAP resolution gap recovered.'
        ]
    lines += ['', '| stage | status | seconds |', '|---|---|---|']
    for name, result in results.items():
        seconds = result.get('seconds')
        lines.append(f'| {name} | {result["status"]} | '
                     f'{"-" if seconds is None else seconds} |')
    return '\n'.join(lines)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    args.work_dir = osp.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    os.chdir(ROOT)  # configs name files relative to the repository

    results = prepare_data(args)

    def stage_dir(name):
        return osp.join(args.work_dir, name)

    results['reference'] = train_stage(
        'reference',
        load_cfg(args.reference_config, stage_dir('reference'), args))
    # the teacher's backbone starts from the reference classifier (non-strict
    # load: its backbone.* keys), as the paper's starts from ImageNet
    teacher = train_stage(
        'teacher',
        load_cfg(args.teacher_config, stage_dir('teacher'), args,
                 dict(load_from=results['reference']['checkpoint'])))
    results['teacher'] = teacher
    results['baseline'] = train_stage(
        'baseline', load_cfg(args.baseline_config, stage_dir('baseline'),
                             args))
    # the distillation stages build the teacher that was trained (an OICR
    # teacher with --teacher-config: its refinement streams)
    teacher_opts = {
        'model.teacher_ckpt': teacher['checkpoint'],
        'model.teacher_cfg': args.teacher_config
    }
    stage1 = train_stage(
        'stage1',
        load_cfg(args.stage1_config, stage_dir('stage1'), args, teacher_opts))
    results['stage1'] = stage1
    stage2_opts = dict(
        teacher_opts,
        **{'model.student.init_cfg.checkpoint': stage1['checkpoint']})
    if args.cached_soft_targets:
        stage2_cfg = load_cfg(args.stage2_cached_config,
                              stage_dir('stage2-cached'), args, stage2_opts)
        results['soft_targets'] = soft_target_stage(
            stage2_cfg, stage_dir('soft_targets'), not args.no_progress)
        stage2_cfg.train_dataloader.dataset.soft_target_file = \
            results['soft_targets']['checkpoint']
    else:
        stage2_cfg = load_cfg(args.stage2_config, stage_dir('stage2'), args,
                              stage2_opts)
    results['stage2'] = train_stage('stage2', stage2_cfg)
    results['export'] = export_stage(
        stage2_cfg, results['stage2']['checkpoint'],
        stage_dir('export-cached' if args.cached_soft_targets else 'export'))

    table = results_table(results, args)
    total = sum(r.get('seconds') or 0 for r in results.values())
    variant = ', stage 2 on cached soft targets' \
        if args.cached_soft_targets else ''
    text = (f'# KD-WSD on MultiDigits ({args.preset}{variant})\n\n'
            f'{table}\n\n'
            f'Total time of the stages (as recorded when each ran): '
            f'{total:.0f} s. Exported student: '
            f'{results["export"]["checkpoint"]}\n')
    atomic_write_text(
        osp.join(args.work_dir, 'results-cached.md'
                 if args.cached_soft_targets else 'results.md'), text)
    print('\n' + text, flush=True)


if __name__ == '__main__':
    main()
