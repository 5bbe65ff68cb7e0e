# Copyright (c) mmkdwsd authors. All rights reserved.
"""Tables and two-way analyses of ``stage1_graft_students.sh``'s grids.

An analysis for issue 8 (docs/benchmarks.md, "What stage 1 hands to
stage 2"). A grid is a text file of lines ``A B mAP``: the val mAP of the
stage-2 student started from stage-1 seed A's trained part grafted onto
stage-1 seed B's untrained rest (``stage1_graft_students.sh`` writes it as
``grid.tsv``). For each grid this prints the table (rows A, columns B)
and a two-way analysis without replication: the spread of the row means
(the trained part's seed), of the column means (the rest's seed), the
residual standard deviation (stage 2's own noise and the two parts'
interaction) and each factor's F test against it.

Given two or more grids of the same seeds (the same work dirs' seed,
say the 10- and 20-epoch twins, whose students share each stage-1
seed's initialisation and data order) it also prints each grid's cell by
cell difference from the first, the cells' correlation with the first,
and the additive analysis pooled over the grids (grid + row + column).

    python tools/analysis_tools/graft_grid_report.py \\
        t10=work_dirs/benchmarks/x_students_oicr/stage1_seeds/ss_twin/\\
seed1/grid.tsv \\
        t20=work_dirs/benchmarks/x_students_oicr/stage1_seeds/ss_t20_twin/\\
seed1/grid.tsv
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import stats


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Tables and two-way analyses of graft grids')
    parser.add_argument(
        'grids', nargs='+', help='[NAME=]PATH of a grid file (A B mAP)')
    return parser.parse_args(argv)


def load_grid(path: str) -> Tuple[List[str], np.ndarray]:
    """A grid file's seeds (in first-seen order) and its square mAP array.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: A line is not ``A B mAP``, a cell repeats, or a cell of
            the square is missing (each named with its line or seeds).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'no grid file {path}')
    cells: Dict[Tuple[str, str], float] = {}
    seeds: List[str] = []
    for number, line in enumerate(open(path), 1):
        if not line.strip():
            continue
        try:  # three fields, the last a number
            a, b, text = line.split()
            value = float(text)
        except ValueError:
            raise ValueError(f'{path}:{number}: expected "A B mAP", got '
                             f'{line.strip()!r}') from None
        if (a, b) in cells:
            raise ValueError(f'{path}:{number}: cell {a} {b} repeats')
        cells[a, b] = value
        for seed in (a, b):
            if seed not in seeds:
                seeds.append(seed)
    missing = [f'{a} {b}' for a in seeds for b in seeds if (a, b) not in cells]
    if missing or len(seeds) < 2:
        raise ValueError(f'{path}: expected every pair of its seeds '
                         f'{seeds} (at least 2), missing {missing}')
    return seeds, np.array([[cells[a, b] for b in seeds] for a in seeds])


def two_way(grids: np.ndarray) -> dict:
    """Additive analysis of ``grids`` (G x K x K: grid, row, column).

    Fits mAP = grand + grid + row + column and returns the row and column
    means (over the grids), their standard deviations, the residual
    standard deviation, and each factor's F statistic and p value against
    the residual (G = 1: the two-way analysis without replication).
    """
    n_grids, k, _ = grids.shape
    grand = grids.mean()
    rows = grids.mean(axis=(0, 2))
    cols = grids.mean(axis=(0, 1))
    fitted = (grids.mean(axis=(1, 2))[:, None, None] + rows[None, :, None] +
              cols[None, None, :] - 2 * grand)
    dof = grids.size - 1 - (n_grids - 1) - 2 * (k - 1)
    var = ((grids - fitted)**2).sum() / dof
    out = dict(rows=rows, cols=cols, row_sd=rows.std(ddof=1),
               col_sd=cols.std(ddof=1), residual_sd=var**0.5, dof=dof)
    for name, means in (('row', rows), ('col', cols)):
        ms = n_grids * k * ((means - grand)**2).sum() / (k - 1)
        f = ms / var if var > 0 else float('inf')
        out[f'{name}_f'] = f
        out[f'{name}_p'] = float(stats.f.sf(f, k - 1, dof))
    return out


def _row(values: Sequence[str]) -> str:
    return '| ' + ' | '.join(values) + ' |'


def report(named: Sequence[Tuple[str, str]]) -> str:
    """The report of the ``(name, path)`` grids (see the module doc).

    Raises:
        ValueError: The grids' seeds differ (named).
    """
    grids, seeds = [], None
    for name, path in named:
        own, grid = load_grid(path)
        if seeds is not None and own != seeds:
            raise ValueError(f'{path} has seeds {own}, {named[0][1]} has '
                             f'{seeds}: compare grids of the same seeds')
        seeds = own
        grids.append(grid)
    lines = []
    for (name, _), grid in zip(named, grids):
        a = two_way(grid[None])
        lines += [
            f'{name}:',
            _row(['trained part from stage-1 seed'] +
                 [f'rest from {s}' for s in seeds] + ['mean ± sd']),
            _row(['---'] * (len(seeds) + 2))
        ]
        lines += [
            _row([s] + [f'{v:.1f}' for v in grid[i]] +
                 [f'{grid[i].mean():.1f} ± {grid[i].std(ddof=1):.1f}'])
            for i, s in enumerate(seeds)
        ]
        lines += [
            _row(['column mean'] + [f'{v:.1f}' for v in a['cols']] + ['']),
            _summary(a), ''
        ]
    if len(grids) > 1:
        first = grids[0].ravel()
        diagonal = np.eye(len(seeds), dtype=bool).ravel()
        lines += [
            _row(['grid', f'minus {named[0][0]}, cell by cell',
                  'mean ± sd', 'negative', 'diagonal mean ± sd',
                  f'correlation with {named[0][0]}']),
            _row(['---'] * 6)
        ]
        for (name, _), grid in list(zip(named, grids))[1:]:
            diff = grid.ravel() - first
            lines.append(_row([
                name, ' '.join(f'{d:+.1f}' for d in diff),
                f'{diff.mean():+.1f} ± {diff.std(ddof=1):.1f}',
                f'{(diff < 0).sum()} of {diff.size}',
                f'{diff[diagonal].mean():+.1f} ± '
                f'{diff[diagonal].std(ddof=1):.1f}',
                f'{np.corrcoef(grid.ravel(), first)[0, 1]:.2f}'
            ]))
        pooled = two_way(np.stack(grids))
        lines += [
            '', f'pooled over {len(grids)} grids (grid + row + column):',
            'row means ' + ' '.join(f'{v:.1f}' for v in pooled['rows']) +
            ', column means ' +
            ' '.join(f'{v:.1f}' for v in pooled['cols']),
            _summary(pooled)
        ]
    return '\n'.join(lines)


def _summary(a: dict) -> str:
    return (f"trained part's seed (row means): sd {a['row_sd']:.1f}, "
            f"F {a['row_f']:.1f}, p {a['row_p']:.3f}; rest's seed (column "
            f"means): sd {a['col_sd']:.1f}, F {a['col_f']:.1f}, p "
            f"{a['col_p']:.3f}; residual sd {a['residual_sd']:.1f} "
            f"({a['dof']} degrees of freedom)")


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    named = [tuple(g.split('=', 1)) if '=' in g else (g, g)
             for g in args.grids]
    print(report(named))


if __name__ == '__main__':
    main()
