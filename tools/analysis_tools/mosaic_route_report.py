# Copyright (c) mmkdwsd authors. All rights reserved.
"""The 230,000-mosaic route's table over seeds (issue 8's 90% gap target).

``mosaic_route.sh SEED`` trains, per seed, the gap's two ends in
accuracy.py's work dir (``baseline_noflip``, the 64 px student, and
``reference_noflip``, the same network at 128 px), the WSDDN teacher
(``teacher_wsddn_nfref``), its student on the paper's data
(``kd_pred_cached_t1_nfref_noflip``) and the student on the masked mosaics
(a training log in the mosaics' work dir). This reads what they left (the
runs' ``done.json`` files and the mosaic student's log) and prints one row
per seed, the seeds' mean and standard deviation, and the target's
verdict: the share of the gap between the seed means that the mosaic
student recovers, seed by seed and from the means, against 90%; and its
gain over the baseline against twice the larger seed standard deviation.

A seed whose runs are not all there yet is listed below the table with
the files it misses; a mosaic student whose run has no ``.done`` marker
yet is shown with its last validation so far, marked "running".

    python tools/analysis_tools/mosaic_route_report.py [--seeds 0 1 2] \\
        [--work work_dirs/benchmarks/epochs60] \\
        [--out work_dirs/benchmarks/x_mosaic] [--num 230000] [--epochs 20]
"""
import argparse
import os.path as osp
import re
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)
sys.path.insert(0, osp.join(_ROOT, 'tools', 'benchmarks'))

from bench_utils import markdown_table  # noqa: E402
from mmkdwsd.utils import read_done_marker  # noqa: E402

BASE = 'kd_pred_cached_t1_nfref_noflip'
TEACHER = 'teacher_wsddn_nfref'
TARGET = 90.0
#: the mosaic student's metrics shown, by their name in its log
LOG_METRICS = ('mAP', 'CF1', 'OF1', 'CF1_top3', 'OF1_top3')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='The mosaic route\'s table over seeds')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--work', default='work_dirs/benchmarks/epochs60',
                        help='accuracy.py\'s work dir (mosaic_route.sh WORK)')
    parser.add_argument('--out', default='work_dirs/benchmarks/x_mosaic',
                        help='the mosaics\' work dir (mosaic_route.sh OUT)')
    parser.add_argument('--num', type=int, default=230000,
                        help='mosaics in the pool (mosaic_route.sh NUM)')
    parser.add_argument('--epochs', type=int, default=20,
                        help='the mosaic student\'s epochs (EPOCHS)')
    parser.add_argument('--base', default=BASE,
                        help='the run the mosaic student starts from')
    return parser.parse_args(argv)


def run_name(base: str, num: int, epochs: int, seed: int) -> str:
    """The mosaic student's run name, as mosaic_route.sh gives it."""
    return (f'{base}_mosaic{num}_mask_union_train_{epochs}e_seed{seed}'
            '_cache64')


def done_metrics(work: str, name: str, seed: int) -> Optional[dict]:
    """A finished accuracy.py run's metrics (a distiller's by their last
    name, its student's), or None when the run has no done marker."""
    done = read_done_marker(osp.join(work, name, f'seed{seed}', 'done.json'))
    if done is None:
        return None
    if 'metrics' not in done or not isinstance(done['metrics'], dict):
        raise ValueError(f'{osp.join(work, name, f"seed{seed}", "done.json")}'
                         ': no "metrics" object')
    out = {}
    for key, value in done['metrics'].items():
        head, _, tail = key.rpartition('/')
        if head in ('', 'student'):
            out[tail] = value
    return out


def log_validations(path: str) -> List[Dict[str, float]]:
    """The student's metrics at each validation of a distiller's training
    log, in order (``student/KEY: value`` of each ``Epoch(val)`` line)."""
    vals = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            if 'Epoch(val)' not in line:
                continue
            pairs = {
                m.group(1): float(m.group(2))
                for m in re.finditer(r'student/(\w+): ([-0-9.]+)', line)
            }
            if 'mAP' in pairs:
                vals.append(pairs)
    return vals


def seed_row(args: argparse.Namespace, seed: int) -> tuple:
    """One seed's figures, or the files it misses.

    Returns:
        tuple[dict | None, list[str]]: ``{'baseline', 'reference',
        'teacher', 'corloc', 'paper', 'mosaic' (its last validation's
        metrics), 'curve' (its val mAPs), 'running'}`` and an empty list,
        or None and what is missing.
    """
    found, missing = {}, []
    for key, name in (('baseline', 'baseline_noflip'),
                      ('reference', 'reference_noflip'),
                      ('teacher', TEACHER), ('paper', args.base)):
        metrics = done_metrics(args.work, name, seed)
        if metrics is None or 'mAP' not in metrics:
            missing.append(osp.join(args.work, name, f'seed{seed}',
                                    'done.json'))
            continue
        found[key] = metrics['mAP']
        if key == 'teacher':
            found['corloc'] = metrics.get('CorLoc', float('nan'))
    run = run_name(args.base, args.num, args.epochs, seed)
    log = osp.join(args.out, run + '.log')
    vals = log_validations(log) if osp.isfile(log) else []
    if not vals:
        missing.append(f'{log} (a validation of the mosaic student)')
    else:
        found['mosaic'] = vals[-1]
        found['curve'] = [v['mAP'] for v in vals]
        found['running'] = not osp.exists(osp.join(args.out, run + '.done'))
    if missing:
        return None, missing
    return found, []


def share(value: float, low: float, high: float) -> float:
    """The share (%) of the gap from ``low`` to ``high`` that ``value``
    recovers; nan on a zero gap."""
    return 100 * (value - low) / (high - low) if high != low else float('nan')


def _ms(values: Sequence[float], digits: int = 2) -> str:
    mean = float(np.mean(values))
    if len(values) < 2:
        return f'{mean:.{digits}f}'
    return f'{mean:.{digits}f} ± {float(np.std(values, ddof=1)):.{digits}f}'


def report(args: argparse.Namespace) -> str:
    """The table, its mean row and the verdict (markdown)."""
    rows, complete, lines = [], [], []
    for seed in args.seeds:
        found, missing = seed_row(args, seed)
        if found is None:
            lines.append(f'- seed {seed} is not complete; missing: ' +
                         ', '.join(missing))
            continue
        complete.append(found)
        low, high = found['baseline'], found['reference']
        mosaic = found['mosaic']
        rows.append([
            str(seed) + (' (running)' if found['running'] else ''),
            f'{low:.2f}', f'{high:.2f}', f'{high - low:.2f}',
            f'{low + TARGET / 100 * (high - low):.2f}',
            f'{found["teacher"]:.2f} / {found["corloc"]:.2f}',
            f'{found["paper"]:.2f} '
            f'({share(found["paper"], low, high):.0f}%)'.replace(
                '(-0%)', '(0%)')
        ] + [f'{mosaic.get(k, float("nan")):.2f}' for k in LOG_METRICS] + [
            f'{share(mosaic["mAP"], low, high):.1f}%',
            f'{100 * (mosaic["mAP"] - low) / (100 - low):.0f}%',
            ' / '.join(f'{v:.2f}' for v in found['curve'])
        ])
    header = [
        'seed', 'baseline 64 px', 'reference 128 px', 'gap',
        f'{TARGET:.0f}% mark', 'teacher mAP / CorLoc',
        'student on the paper\'s data (share)'
    ] + ['mosaic student ' + k.replace('_top3', ' (top-3)')
         for k in LOG_METRICS] + [
             'gap recovered', 'error cut', 'validation curve (mAP)'
         ]
    if not complete:
        raise FileNotFoundError('no seed of the mosaic route is complete:\n' +
                                '\n'.join(lines))
    if len(complete) > 1:
        rows.append(['mean ± std'] + [
            _ms([c[k] for c in complete])
            for k in ('baseline', 'reference')
        ] + [
            _ms([c['reference'] - c['baseline'] for c in complete]),
            _ms([c['baseline'] + TARGET / 100 *
                 (c['reference'] - c['baseline']) for c in complete]),
            _ms([c['teacher'] for c in complete]) + ' / ' +
            _ms([c['corloc'] for c in complete]),
            _ms([c['paper'] for c in complete])
        ] + [
            _ms([c['mosaic'].get(k, float('nan')) for c in complete])
            for k in LOG_METRICS
        ] + [
            _ms([share(c['mosaic']['mAP'], c['baseline'], c['reference'])
                 for c in complete], 1) + '%',
            _ms([100 * (c['mosaic']['mAP'] - c['baseline']) /
                 (100 - c['baseline']) for c in complete], 0) + '%', ''
        ])
    text = '## The mosaic route over seeds\n\n' + markdown_table(header, rows)
    low = float(np.mean([c['baseline'] for c in complete]))
    high = float(np.mean([c['reference'] for c in complete]))
    student = float(np.mean([c['mosaic']['mAP'] for c in complete]))
    recovered = share(student, low, high)
    verdict = ('met' if recovered >= TARGET else
               f'missed by {low + TARGET / 100 * (high - low) - student:.2f}'
               ' mAP')
    text += (f'\n\nFrom the means of {len(complete)} seed(s): the mosaic '
             f'student {student:.2f} recovers {recovered:.1f}% of the gap '
             f'{low:.2f} to {high:.2f} (target >= {TARGET:.0f}%: {verdict}).')
    if len(complete) > 1:
        gain = student - low
        bound = 2 * max(
            float(np.std([c['mosaic']['mAP'] for c in complete], ddof=1)),
            float(np.std([c['baseline'] for c in complete], ddof=1)))
        text += (f' Its gain over the baseline, {gain:.2f}, is '
                 f'{"more" if gain > bound else "not more"} than twice the '
                 f'larger seed standard deviation ({bound:.2f}).')
    if any(c['running'] for c in complete):
        text += (' A "running" seed\'s mosaic student has not finished: its '
                 'figures are its last validation so far.')
    if lines:
        text += '\n\n' + '\n'.join(lines)
    return text + '\n'


def main(argv: Optional[Sequence[str]] = None) -> str:
    text = report(parse_args(argv))
    print(text, end='')
    return text


if __name__ == '__main__':
    main()
