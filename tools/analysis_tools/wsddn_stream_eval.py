# Copyright (c) mmkdwsd authors. All rights reserved.
"""Evaluate refined teachers by their own WSDDN streams.

A refined teacher (OICR) predicts with the average of its refinement
streams; its WSDDN streams (the first stream, which seeds the refinement)
are still there. For each finished teacher run of an ``accuracy.py`` work
dir (``WORK/TEACHER/seedN`` with ``done.json``, the run's config and its
checkpoint) this runs ``tools/test.py`` once more with
``model.roi_head.test_cfg.region_scores=wsddn`` and prints, per run, the
refined and the WSDDN-stream CorLoc and detection mAP@0.5 side by side,
and the plain WSDDN teacher's of the same seed.

With ``refine_grad_scale=0`` (``teacher_oicr_detach``) the WSDDN streams
train exactly as plain WSDDN does, with the OICR teacher's random draws
(initialisation, dropout, data order): their scores are a plain WSDDN
teacher that shares OICR's randomness, the paired control of OICR.
Finished evaluations (``WORK/wsddn_streams/TEACHER/seedN``) are reused.
``--export-twin OUT`` writes that control as a finished plain WSDDN run,
``OUT/teacher_wsddn/seedN`` (the checkpoint without the refinement
streams; the run's own config without them, under the plain experiment's
config name, so the twin keeps the schedule it trained with; ``done.json``
with the WSDDN streams' metrics; no plain WSDDN run is needed in WORK),
so ``accuracy.py --work-dir OUT`` distils students from it,
and links into OUT every other experiment of WORK that does not depend on
the plain WSDDN teacher (the reference, the baselines, the refined
teachers and their students), so that ``accuracy.py --aggregate
--work-dir OUT`` compares OICR with its twin seed by seed.

    python tools/analysis_tools/wsddn_stream_eval.py WORK \\
        --teachers teacher_oicr teacher_oicr_detach --seeds 0 1 2 3 \\
        [--export-twin WORK_TWIN]
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'benchmarks'))
sys.path.insert(0, ROOT)

from bench_utils import markdown_table  # noqa: E402

METRICS = ('CorLoc', 'det_mAP')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir', help='an accuracy.py --work-dir')
    parser.add_argument('--teachers', nargs='+',
                        default=['teacher_oicr', 'teacher_oicr_detach'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--plain', default='teacher_wsddn',
                        help='the plain WSDDN teacher run of each seed')
    parser.add_argument('--export-twin', metavar='OUT',
                        help="write each --teachers run's WSDDN streams "
                        'as a plain WSDDN run in OUT (each must have been '
                        'trained with refine_grad_scale=0)')
    parser.add_argument('--python', default=sys.executable)
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='more test.py --cfg-options, e.g. '
                        'test_dataloader.num_workers=0')
    return parser.parse_args(argv)


def run_dir_files(run: str) -> tuple:
    """The config, checkpoint and ``done.json`` record of a finished run
    dir, or a clear error."""
    done = osp.join(run, 'done.json')
    if not osp.isfile(done):
        raise FileNotFoundError(f'{done}: no finished run here (expected '
                                'the done.json accuracy.py writes)')
    with open(done) as f:
        record = json.load(f)
    config = osp.join(run, osp.basename(record['config']))
    ckpt = record['checkpoint']
    for path, what in ((config, 'its config'), (ckpt, 'its checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}: {what} (named by {done}) is '
                                    'missing')
    return config, ckpt, record


def latest_metrics(out_dir: str):
    """The metrics test.py wrote last under ``out_dir``, or None."""
    found = sorted(glob.glob(osp.join(out_dir, '*', '*.json')))
    if not found:
        return None
    with open(found[-1]) as f:
        return json.load(f)


def eval_wsddn_streams(args, teacher: str, seed: int, config: str,
                       ckpt: str) -> dict:
    """WSDDN-stream metrics of one run, running test.py unless stored."""
    out_dir = osp.join(args.work_dir, 'wsddn_streams', teacher,
                       f'seed{seed}')
    metrics = latest_metrics(out_dir)
    if metrics is not None:
        return metrics
    os.makedirs(out_dir, exist_ok=True)
    log = osp.join(out_dir, 'test.log')
    print(f'evaluating {teacher} seed {seed} by its WSDDN streams '
          f'(log: {log})', flush=True)
    cmd = [args.python, osp.join(ROOT, 'tools', 'test.py'), config, ckpt,
           '--work-dir', out_dir, '--cfg-options',
           'model.roi_head.test_cfg.region_scores=wsddn'] + args.cfg_options
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                              cwd=ROOT)
    metrics = latest_metrics(out_dir)
    if proc.returncode or metrics is None:
        raise RuntimeError(f'{teacher} seed {seed}: test.py failed '
                           f'(exit {proc.returncode}); see {log}')
    return metrics


def plain_experiment_config(plain: str) -> str:
    """The config path ``accuracy.py`` records for experiment ``plain``."""
    from accuracy import EXPERIMENTS
    if plain not in EXPERIMENTS:
        raise ValueError(
            f'--plain {plain!r} is not an accuracy.py experiment and has no '
            'finished run in the work dir to name the twin\'s config after')
    return EXPERIMENTS[plain][0]


def twin_config(cfg):
    """A refined run's config (a ``Config``, changed in place) without its
    refinement: its WSDDN streams as the plain WSDDN model, trained as the
    run was (schedule, data, proposals). ``test_cfg.region_scores`` needs
    no change: without refinement both of its values rank by WSDDN."""
    head = cfg.model.roi_head.bbox_head
    for key in [k for k in head if 'refine' in k]:
        head.pop(key)
    return cfg


def export_twin(args, run: str, files: tuple, seed: int, metrics: dict,
                plain: tuple) -> str:
    """Write the WSDDN streams of a ``refine_grad_scale=0`` run (whose
    :func:`run_dir_files` are ``files``) as a finished plain WSDDN run
    (``args.plain``) of ``args.export_twin``; ``plain``: the files of the
    work dir's plain run of that seed, or None (the config's name is then
    the plain experiment's)."""
    import torch
    from mmengine.config import Config

    # mmengine runners' checkpoints hold a HistoryBuffer (torch >= 2.6)
    from mmkdwsd.compat import load_trusted_local_checkpoint
    config, ckpt, record = files
    cfg = Config.fromfile(config)
    head = cfg.model.roi_head.bbox_head
    if head.get('refine_grad_scale', 1.0) != 0.0:
        raise ValueError(
            f'{config}: model.roi_head.bbox_head.refine_grad_scale is '
            f"{head.get('refine_grad_scale', 1.0)}, expected 0: only then "
            'do its WSDDN streams train as plain WSDDN')
    plain_name = plain[2]['config'] if plain else plain_experiment_config(
        args.plain)
    out = osp.join(args.export_twin, args.plain, f'seed{seed}')
    os.makedirs(out, exist_ok=True)
    twin_config(cfg).dump(osp.join(out, osp.basename(plain_name)))
    state = load_trusted_local_checkpoint(ckpt, map_location='cpu')
    state['state_dict'] = {
        key: value for key, value in state['state_dict'].items()
        if '.fc_refine.' not in key}
    state.pop('optimizer', None)
    out_ckpt = osp.join(out, osp.basename(ckpt))
    torch.save(state, out_ckpt)
    # the record keeps the training's commit, date and device
    twin = dict(record, experiment=args.plain, config=plain_name,
                checkpoint=osp.abspath(out_ckpt), metrics=metrics,
                twin_of=osp.abspath(run))
    with open(osp.join(out, 'done.json'), 'w') as f:
        json.dump(twin, f, indent=1)
    return out


def link_shared(args) -> list:
    """Link into ``args.export_twin`` each experiment dir of
    ``args.work_dir`` that neither is the plain WSDDN teacher nor distils
    from it (those are the twin's own), unless OUT has that experiment
    already; return the names linked."""
    from accuracy import EXPERIMENTS
    linked = []
    for name in sorted(os.listdir(args.work_dir)):
        spec = EXPERIMENTS.get(name)
        source = osp.abspath(osp.join(args.work_dir, name))
        target = osp.join(args.export_twin, name)
        if (spec is None or name == args.plain or spec[2] == args.plain
                or not osp.isdir(source) or osp.lexists(target)):
            continue
        os.symlink(source, target)
        linked.append(name)
    return linked


def main(argv=None) -> list:
    args = parse_args(argv)
    rows = []
    for teacher in args.teachers:
        for seed in args.seeds:
            run = osp.join(args.work_dir, teacher, f'seed{seed}')
            config, ckpt, record = run_dir_files(run)
            streams = eval_wsddn_streams(args, teacher, seed, config, ckpt)
            plain_run = osp.join(args.work_dir, args.plain, f'seed{seed}')
            # the table shows the plain run if present
            plain = (run_dir_files(plain_run) if osp.isfile(
                osp.join(plain_run, 'done.json')) else None)
            if args.export_twin:
                out = export_twin(args, run, (config, ckpt, record), seed,
                                  streams, plain)
                print(f'{teacher} seed {seed}: its WSDDN streams as a plain '
                      f'WSDDN run in {out}', flush=True)
            row = [teacher, seed]
            for metrics in (record['metrics'], streams,
                            plain[2]['metrics'] if plain else {}):
                row += [f'{metrics[m]:.1f}' if m in metrics else '-'
                        for m in METRICS]
            rows.append(row)
    if args.export_twin:
        linked = link_shared(args)
        if linked:
            print(f'linked from {args.work_dir} into {args.export_twin}: '
                  + ' '.join(linked), flush=True)
    header = ['teacher', 'seed', 'CorLoc (refined)', 'det mAP (refined)',
              'CorLoc (its WSDDN streams)', 'det mAP (its WSDDN streams)',
              f'CorLoc ({args.plain})', f'det mAP ({args.plain})']
    print('### Refined teachers by their own WSDDN streams\n')
    print(markdown_table(header, rows))
    return rows


if __name__ == '__main__':
    main()
