# Copyright (c) mmkdwsd authors. All rights reserved.
"""Plot training curves from MMEngine's scalar logs.

MMEngine's ``LoggerHook`` writes every logged scalar to
``WORK_DIR/<timestamp>/vis_data/<timestamp>.json``, one json dict a line:
training lines carry ``iter`` (global iteration, also ``step``), validation
lines carry the metrics with ``step`` = epoch (or iteration when training
by iterations). A work dir may hold several runs (e.g. the stages of
``tools/run_pipeline.py``) and a run several timestamps (resumed training);
each run is one curve, its timestamps concatenated in order.

A key matches a logged name exactly or as its last ``/`` part, so ``mAP``
finds ``multi-label/mAP``. ``--sequential`` draws the runs one after the
other (each starts where the previous one's steps end: the stages of one
training), ``--logy`` puts the named panels on a log scale (terms whose
size changes by orders of magnitude between runs).

Example::

    python tools/analysis_tools/plot_curves.py work_dirs/demo \
        --keys loss mAP --out docs/curves_multidigits.png
"""
import argparse
import glob
import json
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

Series = Dict[str, Tuple[List[float], List[float]]]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Plot MMEngine curves')
    parser.add_argument(
        'inputs',
        nargs='+',
        help='work dirs (searched for vis_data/*.json) or json log files')
    parser.add_argument(
        '--keys', nargs='+', default=['loss'], help='scalars to plot')
    parser.add_argument(
        '--legend', nargs='+', help='one name per run (default: paths)')
    parser.add_argument('--title', help='figure title')
    parser.add_argument('--sequential', action='store_true',
                        help='each run continues the previous one\'s steps')
    parser.add_argument('--logy', nargs='+', default=[],
                        help='keys whose panel has a log y axis')
    parser.add_argument('--out', required=True, help='output image')
    return parser.parse_args(argv)


def find_runs(path: str) -> 'OrderedDict[str, List[str]]':
    """Json logs of each run under ``path``, in time order.

    Args:
        path (str): A work dir or one json log.

    Returns:
        OrderedDict[str, list[str]]: Run name -> its json logs.
    """
    if osp.isfile(path):
        return OrderedDict([(path, [path])])
    logs = [
        f for f in glob.glob(
            osp.join(path, '**', 'vis_data', '*.json'), recursive=True)
        if osp.basename(f) != 'scalars.json'  # same lines again
    ]
    if not logs:
        raise FileNotFoundError(f'no vis_data/*.json log under {path}')
    runs: 'OrderedDict[str, List[str]]' = OrderedDict()
    for log in sorted(logs):
        # <run>/<timestamp>/vis_data/<timestamp>.json
        run_dir = osp.dirname(osp.dirname(osp.dirname(log)))
        name = osp.relpath(run_dir, path)
        name = osp.basename(osp.abspath(path)) if name == '.' else name
        runs.setdefault(name, []).append(log)
    return runs


def _match(name: str, key: str) -> bool:
    return name == key or name.split('/')[-1] == key


def load_series(logs: Sequence[str], keys: Sequence[str]) -> Series:
    """``{(full name): (steps, values)}`` for the logged names matching.

    Training names get the suffix `` (train)``, validation names
    `` (val)``, so a key logged in both gives two curves.
    """
    series: Series = OrderedDict()
    for log in logs:
        with open(log) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        for line in lines:
            mode = 'train' if 'iter' in line else 'val'
            step = line.get('iter', line.get('step'))
            for name, value in line.items():
                if not isinstance(value, (int, float)) or not any(
                        _match(name, k) for k in keys):
                    continue
                xs, ys = series.setdefault(f'{name} ({mode})', ([], []))
                xs.append(step)
                ys.append(float(value))
    return series


def chain(runs: 'OrderedDict[str, Series]') -> 'OrderedDict[str, Series]':
    """The runs one after the other: each run's training and validation
    steps shifted past the previous runs' last ones."""
    chained: 'OrderedDict[str, Series]' = OrderedDict()
    offset = dict(train=0, val=0)
    for run, series in runs.items():
        ends = dict(offset)
        chained[run] = OrderedDict()
        for name, (xs, ys) in series.items():
            mode = 'val' if name.endswith('(val)') else 'train'
            chained[run][name] = ([x + offset[mode] for x in xs], ys)
            if xs:
                ends[mode] = max(ends[mode], offset[mode] + max(xs))
        offset = ends
    return chained


def plot(runs: 'OrderedDict[str, Series]',
         keys: Sequence[str],
         out: str,
         title: Optional[str] = None,
         logy: Sequence[str] = ()) -> List[str]:
    """One panel per key, one line per run and logged name.

    Returns:
        list[str]: The curves drawn, ``'<run>: <name>'``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(keys), figsize=(5 * len(keys), 3.8), squeeze=False)
    drawn = []
    for ax, key in zip(axes[0], keys):
        for index, (run, series) in enumerate(runs.items()):
            for name, (xs, ys) in series.items():
                if not _match(name.rsplit(' (', 1)[0], key):
                    continue
                val = name.endswith('(val)')
                ax.plot(
                    xs,
                    ys,
                    marker='o' if val else None,
                    ms=3,
                    color=f'C{index % 10}',  # one colour per run
                    ls='--' if val else '-',
                    label=f'{run}: {name}')
                drawn.append(f'{run}: {name}')
        ax.set_title(key + (' (log scale)' if key in logy else ''))
        if key in logy:
            ax.set_yscale('log')
        ax.set_xlabel('iteration (train) / epoch (val)')
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return drawn


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    runs: 'OrderedDict[str, Series]' = OrderedDict()
    for path in args.inputs:
        for name, logs in find_runs(path).items():
            runs[name] = load_series(logs, args.keys)
    if args.legend:
        if len(args.legend) != len(runs):
            raise ValueError(f'{len(args.legend)} --legend names for '
                             f'{len(runs)} runs: {list(runs)}')
        runs = OrderedDict(zip(args.legend, runs.values()))
    unknown = set(args.logy) - set(args.keys)
    if unknown:
        raise ValueError(f'--logy {sorted(unknown)} not among --keys')
    if args.sequential:
        runs = chain(runs)
    drawn = plot(runs, args.keys, args.out, args.title, args.logy)
    if not drawn:
        raise ValueError(f'no logged scalar matches {args.keys} in '
                         f'{args.inputs}')
    print(f'{len(drawn)} curves -> {args.out}')
    for name in drawn:
        print(f'  {name}')


if __name__ == '__main__':
    main()
