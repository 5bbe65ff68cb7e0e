# Copyright (c) mmkdwsd authors. All rights reserved.
"""tools/analysis_tools/graft_grid_report.py: reading grid files, the
two-way analysis, the report of one and of two grids, and bad input."""
import os.path as osp
import re

import numpy as np
import pytest

from tests.test_tools import load_script

TOOL = osp.join('tools', 'analysis_tools', 'graft_grid_report.py')


def _write(path, seeds, values):
    lines = [f'{a} {b} {values[i][j]}' for i, a in enumerate(seeds)
             for j, b in enumerate(seeds)]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_load_grid(repo_root, tmp_path):
    tool = load_script(osp.join(repo_root, TOOL))
    path = _write(tmp_path / 'g.tsv', ['1', '21'], [[1, 2], [3, 4]])
    seeds, grid = tool.load_grid(path)
    assert seeds == ['1', '21']  # the first line's seed once
    assert grid.tolist() == [[1, 2], [3, 4]]
    (tmp_path / 'bad.tsv').write_text('1 1 70.0\n1 21\n')
    with pytest.raises(ValueError, match=r'bad\.tsv:2: expected "A B mAP", '
                       r"got '1 21'"):
        tool.load_grid(str(tmp_path / 'bad.tsv'))
    (tmp_path / 'twice.tsv').write_text('1 1 70\n1 1 71\n')
    with pytest.raises(ValueError, match=r'twice\.tsv:2: cell 1 1 repeats'):
        tool.load_grid(str(tmp_path / 'twice.tsv'))
    (tmp_path / 'part.tsv').write_text('1 1 70\n1 21 71\n21 21 72\n')
    with pytest.raises(ValueError, match=r"part\.tsv: expected every pair "
                       r"of its seeds \['1', '21'\] \(at least 2\), missing "
                       r"\['21 1'\]"):
        tool.load_grid(str(tmp_path / 'part.tsv'))
    with pytest.raises(FileNotFoundError, match=r'no grid file .*none\.tsv'):
        tool.load_grid(str(tmp_path / 'none.tsv'))


def test_two_way(repo_root):
    tool = load_script(osp.join(repo_root, TOOL))
    rows, cols = np.array([0., 1., 5.]), np.array([10., 20., 30.])
    additive = rows[:, None] + cols[None, :]
    a = tool.two_way(additive[None])
    assert a['residual_sd'] == pytest.approx(0, abs=1e-9)
    assert a['rows'] == pytest.approx(rows + 20)
    assert a['cols'] == pytest.approx(cols + 2)
    assert a['row_sd'] == pytest.approx(rows.std(ddof=1))
    assert a['dof'] == 4
    # a 2 x 2 grid: the residual is |x00 - x01 - x10 + x11| / 2 on one
    # degree of freedom, and the row F is 2 * (row difference / 2)^2 * 2
    # over its square
    grid = np.array([[70., 72.], [66., 69.]])
    a = tool.two_way(grid[None])
    assert a['residual_sd'] == pytest.approx(0.5)
    assert a['dof'] == 1
    assert a['row_f'] == pytest.approx(2 * 2 * 1.75**2 / 0.25)
    # pooled over two grids that differ by a constant: the same residual
    # and the grid's offset absorbed, on 2 * 4 - 1 - 1 - 2 degrees
    b = tool.two_way(np.stack([grid, grid - 3]))
    assert b['dof'] == 4
    assert b['residual_sd'] == pytest.approx((8 * 0.25**2 / 4)**0.5)
    assert b['rows'] == pytest.approx([71 - 1.5, 67.5 - 1.5])


def test_report(repo_root, tmp_path, capsys):
    tool = load_script(osp.join(repo_root, TOOL))
    seeds = ['1', '21', '22']
    t10 = [[72.1, 70.8, 72.6], [72.5, 71.1, 71.1], [72.1, 69.7, 69.1]]
    t20 = [[v - 2 for v in row] for row in t10]
    t20[2][2] -= 1
    a = _write(tmp_path / 'a.tsv', seeds, t10)
    b = _write(tmp_path / 'b.tsv', seeds, t20)
    tool.main([f't10={a}', f't20={b}'])
    out = capsys.readouterr().out
    assert '| 22 | 72.1 | 69.7 | 69.1 | 70.3 ± 1.6 |' in out
    assert '| column mean | 72.2 | 70.5 | 70.9 |  |' in out
    row = re.findall(r'^\| t20 \| (.*) \| (.*) \| (\d) of 9 \| (.*) \| '
                     r'(.*) \|$', out, re.M)
    assert row == [('-2.0 ' * 8 + '-3.0', '-2.1 ± 0.3', '9',
                    '-2.3 ± 0.6', '0.99')]
    assert 'pooled over 2 grids (grid + row + column):' in out
    assert '(12 degrees of freedom)' in out
    c = _write(tmp_path / 'c.tsv', ['1', '21'], [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"c\.tsv has seeds \['1', '21'\], "
                       r".*a\.tsv has \['1', '21', '22'\]"):
        tool.report([('a', a), ('c', c)])
