# Copyright (c) mmkdwsd authors. All rights reserved.
import json
import os
import os.path as osp
import re

import pytest

from . import load_script

REPORT = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'analysis_tools', 'mosaic_route_report.py')
RUN = 'kd_pred_cached_t1_nfref_noflip_mosaic40_mask_union_train_2e_seed{}' \
    '_cache64'


def _done(work, name, seed, metrics):
    path = osp.join(work, name, f'seed{seed}')
    os.makedirs(path, exist_ok=True)
    with open(osp.join(path, 'done.json'), 'w') as f:
        json.dump(dict(experiment=name, seed=seed, metrics=metrics), f)


def _val_line(epoch, student_map, cf1=80.0):
    return (f'12/07 15:28:32 - mmengine - INFO - Epoch(val) [{epoch}][32/32]'
            f'    student/mAP: {student_map:.4f}  student/CF1: {cf1:.4f}  '
            'student/OF1: 81.0000  student/CF1_top3: 70.0000  '
            'student/OF1_top3: 71.0000  teacher/mAP: 99.0000  '
            'teacher/CF1: 99.0000  data_time: 0.0411  time: 0.4992\n')


def _seed(work, out, seed, low, high, curve, finished=True):
    _done(work, 'baseline_noflip', seed, dict(mAP=low, CF1=1.0))
    _done(work, 'reference_noflip', seed, dict(mAP=high))
    _done(work, 'teacher_wsddn_nfref', seed,
          dict(mAP=95.0 + seed, CorLoc=27.0 + seed, det_mAP=13.0))
    _done(work, 'kd_pred_cached_t1_nfref_noflip', seed, {
        'student/mAP': low + 1,
        'teacher/mAP': 99.0
    })
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, RUN.format(seed) + '.log'), 'w') as f:
        f.write('12/07 15:00:00 - mmengine - INFO - Epoch(train) [1][50/99]'
                '  lr: 1e-3  loss: 0.5\n')
        for epoch, value in enumerate(curve, 1):
            f.write(_val_line(epoch, value))
    if finished:
        open(osp.join(out, RUN.format(seed) + '.done'), 'w').close()


def test_mosaic_route_report(tmp_path):
    report = load_script(REPORT)
    work, out = str(tmp_path / 'work'), str(tmp_path / 'out')
    argv = ['--work', work, '--out', out, '--num', '40', '--epochs', '2',
            '--seeds', '0', '1', '2']
    # nothing there yet: refused, naming what each seed misses
    with pytest.raises(FileNotFoundError, match='no seed of the mosaic '
                       'route is complete') as err:
        report.main(argv)
    assert osp.join(work, 'baseline_noflip', 'seed0', 'done.json') in str(
        err.value)

    _seed(work, out, 0, 80.0, 90.0, [85.0, 88.0])
    # a student a hair below its baseline shows 0%, not -0%
    _done(work, 'kd_pred_cached_t1_nfref_noflip', 0,
          {'student/mAP': 79.99})
    _seed(work, out, 1, 78.0, 92.0, [86.0, 91.0], finished=False)
    # seed 2 lacks its mosaic student
    _seed(work, out, 2, 70.0, 80.0, [75.0])
    os.remove(osp.join(out, RUN.format(2) + '.log'))
    text = report.main(argv)
    rows = [r for r in text.splitlines() if r.startswith('| ')]
    cells = [[c.strip() for c in r.strip('|').split('|')] for r in rows]
    assert cells[1][:7] == [
        '0', '80.00', '90.00', '10.00', '89.00', '95.00 / 27.00',
        '79.99 (0%)'
    ]
    # the last validation's metrics, the share of this seed's own gap
    assert cells[1][7:] == ['88.00', '80.00', '81.00', '70.00', '71.00',
                            '80.0%', '40%', '85.00 / 88.00']
    assert cells[2][0] == '1 (running)' and cells[2][7] == '91.00'
    assert cells[2][12] == f'{100 * 13 / 14:.1f}%'
    assert cells[3][0] == 'mean ± std'
    assert cells[3][1] == '79.00 ± 1.41' and cells[3][3] == '12.00 ± 2.83'
    assert len(rows) == 4  # header, seeds 0 and 1, their mean
    # from the means: (89.5 - 79) / (91 - 79)
    assert re.search(r'the mosaic student 89\.50 recovers 87\.5% of the gap '
                     r'79\.00 to 91\.00 \(target >= 90%: missed by 0\.30 '
                     r'mAP\)', text), text
    assert 'gain over the baseline, 10.50, is more than twice' in text
    assert '"running" seed' in text
    assert re.search(r'seed 2 is not complete; missing: \S+seed2_cache64'
                     r'\.log', text), text

    # a done marker without metrics is named
    with open(osp.join(work, 'reference_noflip', 'seed0', 'done.json'),
              'w') as f:
        json.dump(dict(experiment='reference_noflip'), f)
    with pytest.raises(ValueError, match=r'reference_noflip.seed0.done\.json'
                       r': no "metrics" object'):
        report.main(argv)
