# Copyright (c) mmkdwsd authors. All rights reserved.
"""Smoke tests of tools/benchmarks/ on the CPU at tiny sizes: each script
runs end to end and prints its table with finite numbers."""
import glob
import json
import math
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import mmengine
import numpy as np
import pytest
import torch

from tests.test_tools import load_script

TOOLS = osp.join('tools', 'benchmarks')


@pytest.fixture
def run_script(repo_root, capsys, monkeypatch):
    """Run a script's ``main(argv)`` in this process (no interpreter and
    OpenMMLab start-up per call) and return what it printed; the scripts
    change the working directory, torch's threads and mmdeploy the default
    scope, which are restored."""
    import uuid

    from mmengine.registry import DefaultScope
    monkeypatch.chdir(os.getcwd())
    threads = torch.get_num_threads()

    def run(script, *args):
        path = osp.join(repo_root, TOOLS, script)
        module = load_script(path, f'bench_{script[:-3]}')
        capsys.readouterr()
        module.main(list(args))
        return capsys.readouterr().out

    yield run
    torch.set_num_threads(threads)
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'mmkdwsd':
        DefaultScope.get_instance(
            f'mmkdwsd-{uuid.uuid4().hex}', scope_name='mmkdwsd')


def _table(text, header_start):
    """Rows (lists of cells) of the markdown table whose header starts
    with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith('| ' + header_start))
    header = [c.strip() for c in lines[start].strip('|').split('|')]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        rows.append(dict(zip(header, [c.strip() for c in
                                      line.strip('|').split('|')])))
    return header, rows


def _number(cell):
    return float(re.match(r'[-+]?[\d,.]+(e[-+]?\d+)?', cell).group()
                 .replace(',', ''))


def test_speed_tiny(run_script, tiny_multidigits, tmp_path):
    out = run_script('speed.py', '--device', 'cpu', '--tiny', '--out',
                     str(tmp_path), '--data-root', tiny_multidigits,
                     '--workers', '0', '--proposal-file',
                     'proposals/ss_train.pkl', '--profile')
    header, rows = _table(out, 'section')
    assert header == ['section', 'measurement', 'setting', 'value', 'unit',
                      'ratio / note']
    found = {(r['section'], r['measurement']) for r in rows}
    for key in [('data', 'train pipeline alone (per-image, two views, '
                 'stack_collate)'),
                ('data', 'fast path (two views): PreDecodedDataset loader '
                 'alone'),
                ('data', 'fast path (two views): PreDecodedDataset + '
                 'PreDecodedDataPreprocessor on cpu'),
                ('data', 'fast path (student view): PreDecodedDataset + '
                 'PreDecodedDataPreprocessor on cpu'),
                ('infer', 'student'),
                ('infer', 'teacher (WSDDN.predict_regions)'),
                ('train', 'baseline student step'),
                ('train', 'teacher step (WSDDN)'),
                ('train', 'teacher forward (frozen, no grad)'),
                ('train', 'distillation stage 1 step (feature level)'),
                ('train', 'distillation stage 2 step (prediction level + '
                 'labels)'),
                ('train', 'distillation stage 2 step, cached soft targets'),
                ('train', "distillation stage 2 step keeping the feature "
                 "level (the main job's)"),
                ('roialign', 'mmcv RoIAlign, forward'),
                ('roialign', 'torchvision roi_align, forward'),
                ('roialign', 'student regions: mmcv RoIAlign, forward + '
                 'backward'),
                ('roialign', 'student regions: separable_roi_align, '
                 'forward + backward'),
                ('train', "distillation stage 1 step (feature level), 8 of "
                 "the 16 regions per image (the configs' num_sampled), "
                 "roi_op='separable'"),
                ('train', "distillation stage 1 step (feature level), 8 of "
                 "the 16 regions per image (the configs' num_sampled), the "
                 'teacher computing the features of all 16 (as before the '
                 'draw preceded it)'),
                ('train', "distillation stage 2 step keeping the feature "
                 "level (the main job's), 8 of the 16 regions per image (the "
                 "configs' num_sampled), cached soft targets (the teacher "
                 'runs on the drawn regions only)'),
                ('flops', 'student inference FLOP rate'),
                ('data', 'student-view fast path / fastest training '
                 'throughput'),
                ('data', 'two-view fast path / fastest two-view '
                 'distillation step')]:
        assert key in found, key
    assert len([r for r in rows if r['measurement'] == 'student']) == 4
    for row in rows:
        value = _number(row['value'])
        assert math.isfinite(value) and value > 0, row
    assert 'max abs diff to torchvision 0.0e+00' in out
    separable = next(r for r in rows if r['measurement'].startswith(
        'student regions: separable'))
    assert float(re.search(r'max abs diff to mmcv ([\d.e+-]+)',
                           separable['ratio / note']).group(1)) < 1e-4
    # --profile: one row and one operator list per timed training step,
    # listed after the measurements
    profiled = {r['measurement']: r for r in rows if r['section'] == 'profile'}
    assert set(profiled) == {
        'baseline', 'teacher', 'teacher-forward', 'stage1', 'stage2',
        'stage2-feat', 'stage1-sampled', 'stage1-sampled-teacher-all',
        'stage2-feat-sampled', 'stage2-feat-sampled-cached',
        'stage1-sampled-separable', 'stage2-cached'
    }
    assert rows[-len(profiled):] == list(profiled.values())
    for name, row in profiled.items():
        assert row['unit'] == 'top-level ATen ops per call'
        text = (tmp_path / 'profiles' / f'{name}.txt').read_text()
        assert 'operator (by self CPU time)' in text
        assert 'aten::' in text
    # the backward's convolutions are in every training step's list
    assert 'aten::convolution_backward' in (
        tmp_path / 'profiles' / 'baseline.txt').read_text()
    assert osp.isfile(tmp_path / 'speed.md')
    assert 'still running' not in (tmp_path / 'speed.md').read_text()


def _write_runs(root, maps, metric='mAP'):
    """done.json markers of finished runs: {experiment: [value per seed]}
    (None leaves that seed out)."""
    for name, values in maps.items():
        prefix = 'student/' if name.startswith('kd') else 'multidigits/'
        for seed, value in enumerate(values):
            if value is None:
                continue
            folder = root / name / f'seed{seed}'
            folder.mkdir(parents=True, exist_ok=True)
            marker = folder / 'done.json'
            metrics = (json.loads(marker.read_text())['metrics']
                       if marker.exists() else {})
            metrics[prefix + metric] = value
            marker.write_text(json.dumps(dict(
                experiment=name, seed=seed, metrics=metrics, commit='abc',
                date='d', device='cpu')))


def test_accuracy_gains_per_seed(run_script, tmp_path):
    # the demo's three seeds (docs/design.md): the reference varies with
    # the seed, so each seed's gap is against its own baseline/reference
    maps = dict(baseline=[43.8, 42.7, 42.6], reference=[74.8, 70.2, 66.8],
                kd_staged_feat=[72.0, 72.4, 68.1], kd_pred=[44.0],
                baseline_noflip=[50.0], kd_pred_cached_noflip=[56.2])
    _write_runs(tmp_path, maps)
    # a damaged marker (a fourth seed) is skipped with a warning naming it
    broken = tmp_path / 'kd_staged_feat' / 'seed3' / 'done.json'
    broken.parent.mkdir()
    broken.write_text('{"experiment": "kd_staged_feat", "se')
    out = run_script('accuracy.py', '--aggregate', '--work-dir',
                     str(tmp_path))
    assert f'skipped {broken}: not a readable done-marker' in out
    # no OICR run: no seed-by-seed comparison with WSDDN
    assert 'seed by seed' not in out
    header, rows = _table(out, 'distilled student')
    assert header[-3:] == ['gap recovered per seed', 'gain > 2 std',
                           'against']
    by_model = {r['distilled student']: r for r in rows}
    feat = by_model['student 64 px, KD staged, stage 2 keeps the feature '
                    'level (WSDDN)']
    assert feat['gap recovered per seed'] == '91 / 108 / 105%'
    assert feat['resolution gap recovered (target >= 90%)'] == '101%'
    assert feat['gain > 2 std'].startswith('yes (')
    # one seed: no standard deviation to compare the gain with
    pred = by_model['student 64 px, KD prediction level (WSDDN)']
    assert pred['gain > 2 std'] == 'n/a (one seed)'
    assert pred['gap recovered per seed'] == '1%'
    assert pred['against'] == 'baseline, reference'
    # a student without flips is measured against the baseline without
    # them (+6.2), and against the reference until the one without flips
    # is finished (6.2 of the 24.8 to seed 0's reference)
    noflip = by_model['student 64 px, KD prediction level, cached soft '
                      'targets, no flip (WSDDN)']
    assert noflip['against'] == 'baseline_noflip, reference'
    assert noflip['mAP gain'] == '+6.2'
    assert noflip['gap recovered per seed'] == '25%'
    _write_runs(tmp_path, dict(reference_noflip=[62.4]))
    out = run_script('accuracy.py', '--aggregate', '--work-dir',
                     str(tmp_path))
    _, rows = _table(out, 'distilled student')
    noflip = {r['distilled student']: r for r in rows}[noflip[
        'distilled student']]
    assert noflip['against'] == 'baseline_noflip, reference_noflip'
    assert noflip['gap recovered per seed'] == '50%'


def test_accuracy_oicr_against_wsddn_seed_by_seed(run_script, tmp_path):
    """Each OICR run against the same run with WSDDN on their common
    seeds: differences, mean +- std, seeds ahead, the t interval; and the
    runs with graph-centre seeds against those with OICR's in a second
    table, the refinement on fixed features against OICR's in a third."""
    _write_runs(tmp_path, dict(teacher_wsddn=[50.0, 40.0, 60.0],
                               teacher_oicr=[60.0, 50.0, 71.0],
                               teacher_oicr_graph=[None, 54.0, 75.0],
                               teacher_oicr_detach=[None, 45.0, 70.0]),
                'CorLoc')
    _write_runs(tmp_path, dict(teacher_wsddn=[30.0, 20.0, 40.0],
                               teacher_oicr=[20.0, 11.0, 29.0]), 'det_mAP')
    _write_runs(tmp_path, dict(
        kd_staged_cached_noflip=[60.0, 70.0, 65.0, None],
        # seed 3 has no WSDDN run to pair with: left out
        kd_staged_cached_mixed_oicr_noflip=[61.0, 72.0, 68.0, 99.0],
        kd_pred_cached_noflip=[55.0], kd_pred_cached_oicr_noflip=[54.0]))
    out = run_script('accuracy.py', '--aggregate', '--work-dir',
                     str(tmp_path))
    assert '### The refined teacher (OICR) against WSDDN, seed by seed' in out
    _, rows = _table(out, 'OICR run')
    by = {(r['OICR run'], r['metric']): r for r in rows}
    assert len(rows) == 6
    detach_label = 'teacher OICR 128 px, refinement on fixed features'
    assert by[(detach_label, 'CorLoc')]['difference per seed'] == \
        '+5.0 / +10.0'
    graph_label = 'teacher OICR 128 px, graph-centre seeds (PCL)'
    assert by[(graph_label, 'CorLoc')]['difference per seed'] == \
        '+14.0 / +15.0'
    corloc = by[('teacher OICR 128 px', 'CorLoc')]
    assert corloc['against (WSDDN)'] == 'teacher_wsddn'
    assert corloc['difference per seed'] == '+10.0 / +10.0 / +11.0'
    assert corloc['mean ± std'] == '+10.3 ± 0.6'
    assert corloc['OICR ahead at'] == '3 of 3'
    # t(0.975, 2 df) = 4.303: half width 4.303 * 0.577 / sqrt(3) = 1.43
    assert corloc['95% interval of the mean'] == '[+8.9, +11.8] (OICR ahead)'
    det = by[('teacher OICR 128 px', 'det mAP@0.5')]
    assert det['95% interval of the mean'] == '[-12.5, -7.5] (WSDDN ahead)'
    assert det['OICR ahead at'] == '0 of 3'
    mixed = by[('student 64 px, KD staged, stage 2 on cached soft targets, '
                "mean of the WSDDN and refinement streams', no flip (OICR)",
                'mAP')]
    assert mixed['seeds'] == '0,1,2'
    assert mixed['difference per seed'] == '+1.0 / +2.0 / +3.0'
    # mean 2, std 1: half width 4.303 / sqrt(3) = 2.48
    assert mixed['95% interval of the mean'] == '[-0.5, +4.5] (includes 0)'
    pred = by[('student 64 px, KD prediction level, cached soft targets, '
               'no flip (OICR)', 'mAP')]
    assert pred['95% interval of the mean'] == 'n/a (one seed)'
    assert pred['OICR ahead at'] == '0 of 1'
    assert "### Graph-centre seeds against OICR's, seed by seed" in out
    _, rows = _table(out, 'graph seeds run')
    assert len(rows) == 1  # no det mAP nor student with graph seeds
    assert rows[0]['graph seeds run'] == graph_label
    assert rows[0]['against (OICR seeds)'] == 'teacher_oicr'
    assert rows[0]['difference per seed'] == '+4.0 / +4.0'
    # std 0: the interval is the mean itself
    assert rows[0]['95% interval of the mean'] == \
        '[+4.0, +4.0] (graph seeds ahead)'
    assert rows[0]['graph seeds ahead at'] == '2 of 2'
    assert ("### Refinement on fixed features against OICR's, seed by seed"
            in out)
    _, rows = _table(out, 'fixed features run')
    assert [(r['fixed features run'], r['against (OICR)'])
            for r in rows] == [(detach_label, 'teacher_oicr')]
    assert rows[0]['difference per seed'] == '-5.0 / -1.0'
    assert rows[0]['fixed features ahead at'] == '0 of 2'


def _finished_run(work, name: str) -> str:
    """Mark ``name``'s seed-0 run in ``work`` finished, as accuracy.py does
    (done.json naming an epoch_1.pth, here empty); its checkpoint path."""
    run = work / name / 'seed0'
    run.mkdir(parents=True)
    (run / 'epoch_1.pth').write_bytes(b'')
    (run / 'done.json').write_text(json.dumps(dict(
        experiment=name, seed=0, checkpoint=str(run / 'epoch_1.pth'),
        metrics={}, epochs=1)))
    return str(run / 'epoch_1.pth')


def test_accuracy_student_epochs(repo_root, run_script, tmp_path):
    """--student-epochs sets the schedule of the runs that learn the labels
    (the cosine's end with it) and leaves the teachers and stage 1 alone,
    --teacher-epochs the teachers';
    the table shows each run's epochs and warns when the label-trained
    students' schedules differ (the CPU pilot's staged students trained
    half the baseline's epochs and fell below it, docs/benchmarks.md)."""
    acc = load_script(osp.join(repo_root, TOOLS, 'accuracy.py'),
                      'bench_accuracy_epochs')
    work = tmp_path / 'acc'
    for name in ('reference', 'teacher_wsddn', 'kd_stage1', 'teacher_oicr'):
        _finished_run(work, name)
    args = acc.parse_args(['--work-dir', str(work), '--epochs', '7',
                           '--student-epochs', '60'])
    for name, epochs in (('baseline', 60), ('reference', 60),
                         ('kd_staged_feat', 60), ('kd_pred', 60),
                         ('teacher_wsddn', 7), ('kd_stage1', 7),
                         ('kd_stage1_oicr', 7)):
        cfg = acc.build_cfg(args, name, 0, str(tmp_path / name))
        assert cfg.train_cfg.max_epochs == epochs, name
        cosine = [s for s in cfg.param_scheduler
                  if s.type == 'CosineAnnealingLR']
        assert cosine and all(s.T_max == epochs for s in cosine), name
    # the OICR stage 1: the refined teacher's config and checkpoint
    assert 'oicr' in cfg.model.teacher_cfg
    assert cfg.model.teacher_ckpt == str(
        work / 'teacher_oicr' / 'seed0' / 'epoch_1.pth')
    args = acc.parse_args(['--work-dir', str(work), '--epochs', '7',
                           '--teacher-epochs', '10'])
    for name, epochs in (('teacher_wsddn', 10), ('teacher_oicr', 10),
                         ('kd_stage1', 7), ('baseline', 7)):
        cfg = acc.build_cfg(args, name, 0, str(tmp_path / name))
        assert cfg.train_cfg.max_epochs == epochs, name
        # a checkpoint every epoch without CUDA (a cut run resumes from it),
        # only the last one on CUDA
        assert cfg.default_hooks.checkpoint.interval == (
            epochs if acc._cuda() else 1), name
    args = acc.parse_args(['--work-dir', str(work), '--epochs', '7',
                           '--ckpt-interval', '3'])
    cfg = acc.build_cfg(args, 'baseline', 0, str(tmp_path / 'baseline'))
    assert cfg.default_hooks.checkpoint.interval == 3
    with pytest.raises(SystemExit):
        acc.parse_args(['--ckpt-interval', '0'])

    def done(name, epochs, value):
        folder = tmp_path / 'agg' / name / 'seed0'
        folder.mkdir(parents=True)
        prefix = 'student/' if name.startswith('kd') else ''
        (folder / 'done.json').write_text(json.dumps(dict(
            experiment=name, seed=0, metrics={f'{prefix}mAP': value},
            epochs=epochs)))

    done('baseline', 30, 58.6)
    done('reference', 30, 74.7)
    done('kd_stage1', 15, None)
    done('kd_staged_cached', 15, 52.3)
    out = run_script('accuracy.py', '--aggregate', '--work-dir',
                     str(tmp_path / 'agg'))
    _, rows = _table(out, 'model')
    assert [r['epochs'] for r in rows] == ['30', '30', '15', '15']
    assert 'different schedules (15, 30 epochs)' in out
    done('kd_staged', 30, 67.3)  # stage 1's 15 epochs do not count
    (tmp_path / 'agg' / 'kd_staged_cached' / 'seed0' / 'done.json').unlink()
    out = run_script('accuracy.py', '--aggregate', '--work-dir',
                     str(tmp_path / 'agg'))
    assert 'different schedules' not in out


def test_accuracy_teacher_starts_from_its_reference(repo_root, tmp_path):
    """A teacher's backbone starts from the finished reference its
    experiment names (``reference`` unless it names another); without that
    reference it stops and names the run to train first."""
    acc = load_script(osp.join(repo_root, TOOLS, 'accuracy.py'),
                      'bench_accuracy_start')
    work = tmp_path / 'acc'
    args = acc.parse_args(['--work-dir', str(work)])
    reference = _finished_run(work, 'reference')
    with pytest.raises(FileNotFoundError,
                       match='run `--only reference_noflip --seed 0`'):
        acc.build_cfg(args, 'teacher_wsddn_nfref', 0, str(tmp_path / 't'))
    noflip = _finished_run(work, 'reference_noflip')
    assert acc.build_cfg(args, 'teacher_wsddn', 0,
                         str(tmp_path / 't0')).load_from == reference
    assert acc.build_cfg(args, 'teacher_wsddn_nfref', 0,
                         str(tmp_path / 't1')).load_from == noflip
    # not a stage 1: its student learns the labels on the baseline's
    # schedule, measured against the students without flips
    assert 'reference_noflip' not in acc.STAGE1_RUNS
    student = 'kd_pred_cached_t1_nfref_noflip'
    assert student in acc.LABEL_RUNS
    assert acc.BASELINE_OF[student] == ('baseline_noflip', 'reference_noflip')
    # the recipe of kd_pred_cached_t1_noflip, from a random start
    recipe = acc.EXPERIMENTS['kd_pred_cached_t1_noflip'][:2]
    assert acc.EXPERIMENTS[student] == (*recipe, 'teacher_wsddn_nfref')


@pytest.mark.parametrize('val_every,interval', [(None, 10), ('2', 2)])
def test_ablation_schedule_val_every(repo_root, tmp_path, val_every,
                                     interval):
    """bench_ablation_lib.sh's schedule: the cosine over EPOCHS, a
    checkpoint every epoch, and validation only after the last epoch
    unless VAL_EVERY asks for a learning curve."""
    lib = osp.join(repo_root, 'tools', 'analysis_tools',
                   'bench_ablation_lib.sh')
    env = dict(os.environ)
    env.pop('VAL_EVERY', None)
    if val_every:
        env['VAL_EVERY'] = val_every
    text = subprocess.run(['bash', '-c', '. "$0"; schedule 10 1', lib],
                          env=env, capture_output=True, text=True,
                          check=True).stdout
    (tmp_path / 'schedule.py').write_text(text)
    cfg = mmengine.Config.fromfile(str(tmp_path / 'schedule.py'))
    assert cfg.train_cfg == dict(max_epochs=10, val_interval=interval)
    assert cfg.default_hooks.checkpoint.interval == 1
    assert [s['type'] for s in cfg.param_scheduler] == [
        'LinearLR', 'CosineAnnealingLR']
    assert cfg.param_scheduler[1]['T_max'] == 10


def test_ablation_train_run_resumes_a_run_cut_short(repo_root,
                                                    tiny_multidigits,
                                                    tmp_path):
    """bench_ablation_lib.sh's train_run (the ablation scripts' and the demo
    ablations' training step): a run cut short (checkpoints, no RUN.done)
    resumes from its last checkpoint with its log appended to; a finished
    run is skipped; a failing one names its log and leaves no RUN.done."""
    from tests.conftest import data_overrides
    lib = osp.join(repo_root, 'tools', 'analysis_tools',
                   'bench_ablation_lib.sh')
    cfg = osp.join(repo_root, 'configs', 'mlc',
                   'resnet18-tiny_1xb8-12e_multidigits-32px.py')
    run = tmp_path / 'runs' / 'student'
    env = dict(os.environ, PY=sys.executable)

    def train_run(config, epochs):
        return subprocess.run(
            ['bash', '-c', '. "$0"; train_run "$@"', lib, 'student',
             str(run), config, 'randomness.seed=0',
             *data_overrides(tiny_multidigits, epochs=epochs)],
            cwd=repo_root, env=env, capture_output=True, text=True)

    # cut short: the first of two epochs trained (its checkpoint and
    # last_checkpoint written), no student.done
    subprocess.run(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', str(run),
         '--cfg-options', 'randomness.seed=0',
         *data_overrides(tiny_multidigits, epochs=1)],
        cwd=repo_root, check=True, capture_output=True)
    log = tmp_path / 'runs' / 'student.log'
    log.write_text('the first attempt\n')
    proc = train_run(cfg, 2)
    assert proc.returncode == 0, proc.stderr
    assert f'(resumes from {run}/epoch_1.pth)' in proc.stdout
    text = log.read_text()
    assert text.startswith('the first attempt\n')
    assert 'resumed epoch: 1' in text
    assert 'Epoch(val) [2]' in text and 'Epoch(val) [1]' not in text
    assert (run / 'epoch_2.pth').is_file()
    assert (tmp_path / 'runs' / 'student.done').is_file()
    # finished: skipped, nothing printed, the log untouched
    done = train_run(cfg, 3)
    assert done.returncode == 0 and done.stdout == ''
    assert log.read_text() == text
    # failing: its log named, no .done
    (tmp_path / 'runs' / 'student.done').unlink()
    proc = train_run(str(tmp_path / 'missing.py'), 2)
    assert proc.returncode == 1
    assert f'failed, see {run}.log' in proc.stderr
    assert not (tmp_path / 'runs' / 'student.done').exists()


def test_ablation_spawned_runs_stop_the_script(repo_root, tmp_path):
    """bench_ablation_lib.sh's spawn / wait_spawned (the demo ablations'
    runs side by side): a failing run stops the script at wait_spawned, not
    later, and only after the runs beside it have ended; with none failing
    the script goes on, and a wait with nothing spawned passes."""
    lib = osp.join(repo_root, 'tools', 'analysis_tools',
                   'bench_ablation_lib.sh')
    env = dict(os.environ, PY=sys.executable)
    script = ('set -euo pipefail; . "$0"; D=$1\n'
              'slow() { sleep 1; touch "$D/$1"; }\n'
              'spawn slow first; spawn true; wait_spawned; wait_spawned\n'
              'echo "went on"\n'
              'spawn exit 3; spawn slow second\n'
              'spawn train_run broken "$D/runs/broken" "$D/missing.py"\n'
              'wait_spawned\n'
              'echo "not reached"\n')
    proc = subprocess.run(['bash', '-c', script, lib, str(tmp_path)],
                          cwd=repo_root, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert 'went on' in proc.stdout and 'not reached' not in proc.stdout
    assert (tmp_path / 'first').is_file()
    # the failures: train_run named its log; the run spawned after the
    # first failure, still running when it failed, was waited for
    assert f'failed, see {tmp_path}/runs/broken.log' in proc.stderr
    assert '2 of 3 runs side by side failed' in proc.stderr
    assert (tmp_path / 'second').is_file()
    assert not (tmp_path / 'runs' / 'broken.done').exists()


def test_accuracy_tiny(repo_root, run_script, tmp_path):
    work, data = str(tmp_path / 'acc'), str(tmp_path / 'md')
    common = ['--tiny', '--data-root', data, '--data-workers', '1']
    with pytest.raises(FileNotFoundError, match='no finished reference'):
        run_script('accuracy.py', *common, '--work-dir', work, '--only',
                   'teacher_wsddn')
    with pytest.raises(FileNotFoundError, match='no finished kd_stage1'):
        run_script('accuracy.py', *common, '--work-dir', work, '--only',
                   'baseline', 'reference', 'teacher_wsddn', 'kd_staged')
    out = run_script('accuracy.py', *common, '--work-dir', work, '--only',
                     'kd_both', 'kd_stage1', 'kd_staged', 'kd_staged_cached',
                     'kd_staged_feat', 'kd_staged_feat_cached',
                     'kd_staged_cached_t1', 'kd_pred_cached',
                     'kd_pred_cached_flip', '--seed', '0')
    # the three cached runs at the paper's temperatures computed their
    # teacher's soft targets once; the run at T = 1 and the one with the
    # flipped view computed their own
    assert out.count('caching soft targets in') == 3
    teacher_dir = osp.join(work, 'teacher_wsddn', 'seed0')
    for name, temperature in (('soft_targets.pkl', 0.5),
                              ('soft_targets_tc1_td1.pkl', 1.0),
                              ('soft_targets_flip.pkl', 0.5)):
        meta = mmengine.load(osp.join(teacher_dir, name))['meta']
        assert meta['cls_temperature'] == meta['det_temperature'] == \
            temperature
        assert meta.get('views') == (['original', 'hflip']
                                     if 'flip' in name else None)
    # a file of other temperatures under the T = 1 name is refused, and kept
    # (then put back: the decomposition below trains on the T = 1 file)
    t1_file = osp.join(teacher_dir, 'soft_targets_tc1_td1.pkl')
    os.replace(t1_file, t1_file + '.bak')
    shutil.copy(osp.join(teacher_dir, 'soft_targets.pkl'), t1_file)
    with pytest.raises(ValueError, match=r'soft_targets_tc1_td1\.pkl was '
                       'computed at cls_temperature 0.5, but model.pred_'
                       r'distill.cls_temperature is 1\.0.*move the file'):
        run_script('accuracy.py', *common, '--work-dir', work, '--only',
                   'kd_staged_feat_cached_t1')
    assert osp.isfile(t1_file)
    os.replace(t1_file + '.bak', t1_file)
    with pytest.raises(FileNotFoundError, match='no finished teacher_wsddn'):
        run_script('accuracy.py', *common, '--work-dir',
                   str(tmp_path / 'empty'), '--only', 'kd_feat')
    out = run_script('accuracy.py', '--aggregate', '--work-dir', work)
    header, rows = _table(out, 'model')
    assert header == ['model', 'seeds', 'epochs', 'mAP', 'CF1', 'OF1',
                      'CF1 (top-3)', 'OF1 (top-3)', 'CorLoc', 'det mAP@0.5']
    by_model = {r['model']: r for r in rows}
    stage1 = 'student 64 px, KD stage 1 only (feature level, no head)'
    staged = ('student 64 px, KD staged: feature level, then prediction '
              'level (WSDDN)')
    cached = ('student 64 px, KD staged, stage 2 on cached soft targets '
              '(WSDDN)')
    feat = 'student 64 px, KD staged, stage 2 keeps the feature level (WSDDN)'
    feat_cached = ('student 64 px, KD staged, stage 2 keeps the feature '
                   'level, cached soft targets (WSDDN)')
    cached_t1 = ('student 64 px, KD staged, stage 2 on cached soft targets '
                 'at T = 1 (WSDDN)')
    pred_cached = ('student 64 px, KD prediction level, cached soft targets '
                   '(WSDDN)')
    pred_flip = ('student 64 px, KD prediction level, cached soft targets '
                 'with the flipped view (WSDDN)')
    assert set(by_model) == {
        'student 64 px, no distillation', 'teacher WSDDN 128 px',
        'student 64 px, KD both (WSDDN)',
        'student 128 px (teacher resolution), no distillation', stage1,
        staged, cached, feat, feat_cached, cached_t1, pred_cached, pred_flip
    }
    assert by_model[stage1]['mAP'] == '-'  # no head trained, no validation
    for row in rows:
        if row['model'] == stage1:
            continue
        for col in ('mAP', 'CF1', 'OF1', 'CF1 (top-3)', 'OF1 (top-3)'):
            assert math.isfinite(_number(row[col])), row
    teacher = by_model['teacher WSDDN 128 px']
    assert math.isfinite(_number(teacher['CorLoc']))
    assert math.isfinite(_number(teacher['det mAP@0.5']))
    _, gains = _table(out, 'distilled student')
    assert [g['distilled student'] for g in gains] == [
        'student 64 px, KD both (WSDDN)', staged, cached, feat, feat_cached,
        cached_t1, pred_cached, pred_flip
    ]
    # the prediction-level runs on cached targets start from scratch, the
    # staged ones from stage 1
    for name, staged_start in (('kd_pred_cached_flip', False),
                               ('kd_staged_cached', True)):
        log = open(glob.glob(osp.join(work, name, 'seed0', '*',
                                      '*.log'))[0]).read()
        assert ('load student. in model from' in log) == staged_start
    assert math.isfinite(_number(gains[0]['error reduction (target >= '
                                          '13%)']))
    _check_staged_gain_decomposition(repo_root, work)
    _check_soft_target_temperature_ablation(repo_root, work, data,
                                            str(tmp_path))
    run_script('accuracy.py', *common, '--work-dir', work, '--only',
               'kd_staged_cached_noflip', '--seed', '0')
    _check_teacher_swap_students(repo_root, work, str(tmp_path))
    _check_stage1_seed_students(repo_root, work, str(tmp_path))
    _check_stage1_graft_students(repo_root, work, str(tmp_path))
    _check_mosaic_transfer_set(repo_root, work, data, str(tmp_path))
    _check_large_schedule_ablation(repo_root, work, str(tmp_path))
    _check_data_scaling_probe(repo_root, data, str(tmp_path))
    _check_mosaic_route(repo_root, work, data, str(tmp_path))


def _check_large_schedule_ablation(repo_root, work, tmp):
    """large_schedule_ablation.sh on the finished tiny work dir, two of
    its runs (RUNS): a distilled student from a random start and one from
    stage 1's student (a plain student's run writes its config as the
    staged one does, with no start override); an unknown run name is
    refused before any training."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'large_schedule_ablation.sh')
    out = osp.join(tmp, 'x_schedule')
    env = dict(os.environ, PY=sys.executable)
    proc = subprocess.run(['bash', script, work, '0', out],
                          env=dict(env, RUNS='baseline_15e nope'),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert "RUNS: unknown run 'nope'; the runs are: baseline_15e" in \
        proc.stderr
    assert 'training' not in proc.stdout
    env['RUNS'] = 'pred_15e staged_pred_15e'
    proc = subprocess.run(['bash', script, work, '0', out], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count('training ') == 2, proc.stdout
    for label in ('labels + prediction level, 15 epochs, no stage 1',
                  'stage 1 (15 epochs), then labels + prediction level, '
                  '15 epochs'):
        assert re.search(rf'^{re.escape(label)}: mAP: \d+\.\d+$',
                         proc.stdout, re.M), proc.stdout
    for name, staged_start in (('pred_15e', False),
                               ('staged_pred_15e', True)):
        cfg = mmengine.Config.fromfile(osp.join(out, 'configs',
                                                name + '.py'))
        assert cfg.train_cfg.max_epochs == 15
        log = open(osp.join(out, name + '.log')).read()
        assert ('load student. in model from' in log) == staged_start
    # a rerun trains nothing and prints the same table
    again = subprocess.run(['bash', script, work, '0', out], env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and 'training ' not in again.stdout
    assert again.stdout.splitlines()[-2:] == proc.stdout.splitlines()[-2:]


def _check_data_scaling_probe(repo_root, data, tmp):
    """data_scaling_probe.sh on the tiny scenes: a larger set of the same
    seed whose first scenes are the tiny set's, the baseline trained on it;
    a set whose val split differs is refused before any training."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'data_scaling_probe.sh')
    out = osp.join(tmp, 'x_scaling')
    env = dict(os.environ, PY=sys.executable, DATA_ROOT=data, WORKERS='1',
               BIG_ROOT=osp.join(tmp, 'md24'), NUM_VAL='8')
    proc = subprocess.run(['bash', script, '24', '1', '0', out], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    big = osp.realpath(osp.join(tmp, 'md24'))
    assert f"train: the first 16 of 24 scenes are {osp.realpath(data)}'s" \
        in proc.stdout, proc.stdout
    assert 'val: the first 8 of 8 scenes' in proc.stdout
    assert re.search(r'^baseline_train24_1e_seed0: val mAP \d+\.\d+$',
                     proc.stdout, re.M), proc.stdout
    cfg = mmengine.Config.fromfile(
        osp.join(out, 'configs', 'baseline_train24_1e_seed0.py'))
    assert cfg.train_dataloader.dataset.dataset.data_root == big + '/'
    # 4 val scenes instead of the benchmark's 8: refused, nothing trained
    env.update(BIG_ROOT=osp.join(tmp, 'md20'), NUM_VAL='4')
    proc = subprocess.run(['bash', script, '20', '1', '0', out], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert (f"{osp.realpath(osp.join(tmp, 'md20'))}: its first 8 val scenes "
            'differ from') in proc.stderr, proc.stderr
    assert not osp.exists(osp.join(out, 'baseline_train20_1e_seed0'))


def _check_mosaic_transfer_set(repo_root, work, data, tmp):
    """mosaic_transfer_set.sh on the finished tiny work dir (through
    transfer_set_distillation.sh): mosaics of the tiny training scenes, the
    teacher's soft targets and pseudo-labels for them, and a student
    trained on the scenes and the mosaics, starting from the saved config
    of the BASE_EXP run; then its label-only controls (union and true
    labels)."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'mosaic_transfer_set.sh')
    big, out = osp.join(tmp, 'mosaic'), osp.join(tmp, 'x_mosaic')
    # a smaller pool of the same source and seed, whose 3 mosaics the
    # script's pool hard-links (REUSE_FROM) instead of drawing them again
    small = osp.join(tmp, 'mosaic_small')
    subprocess.run([sys.executable, osp.join(osp.dirname(script),
                                             'mosaic_scenes.py'),
                    data, small, '--num', '3', '--no-progress'],
                   check=True, capture_output=True, timeout=600)
    env = dict(os.environ, PY=sys.executable, DATA_ROOT=data,
               BIG_ROOT=big, BASE_EXP='kd_staged_cached_t1',
               REUSE_FROM=small)
    proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                          env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f'3 mosaics linked from {small}' in proc.stdout
    for i in range(6):
        mosaic = osp.join(big, 'train', f'mosaic_{i:06d}.png')
        assert osp.isfile(mosaic)
        if i < 3:
            assert osp.samefile(mosaic, osp.join(small, 'train',
                                                 f'mosaic_{i:06d}.png'))
    name = 'kd_staged_cached_t1_mosaic6_1e_seed0'
    assert re.search(rf'^{name}: val mAP \d+\.\d+$', proc.stdout, re.M), \
        proc.stdout
    with open(osp.join(data, 'annotations', 'instances_train.json')) as f:
        labelled = json.load(f)
    pseudo = json.load(open(osp.join(out, 'pseudo_mosaic6_seed0.json')))
    n = len(labelled['images'])
    assert len(pseudo['images']) == n + 6
    assert pseudo['info']['pseudo_labels']['pseudo_labelled_images'] == 6
    # the labelled scenes keep their annotations; mosaics carry whole-image
    # pseudo-labels, not the crops' boxes
    ids = {im['id'] for im in labelled['images']}
    assert [a for a in pseudo['annotations'] if a['image_id'] in ids] == \
        labelled['annotations']
    for ann in pseudo['annotations']:
        if ann['image_id'] not in ids:
            assert ann['bbox'][:2] == [0, 0]
    soft = mmengine.load(osp.join(out, 'soft_targets_mosaic6_seed0_tc1_'
                                  'td1.pkl'))
    assert len(soft['targets']) == n + 6
    cfg = mmengine.Config.fromfile(osp.join(out, 'configs', name + '.py'))
    assert cfg.train_dataloader.dataset.dataset.data_root.rstrip('/') == \
        osp.realpath(big)
    # a rerun skips every step
    proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                          env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and name + ' (' not in proc.stdout
    _check_mosaics_of_another_teacher(script, work, out, env)
    _check_mosaics_cached_at_the_students_scale(script, work, out, env, big,
                                                n + 6)
    # the label-only controls: the same scenes, the baseline_noflip config,
    # no teacher; each mosaic labelled by its sources' labels (UNION) or by
    # its true labels (ORACLE)
    controls = {}
    for mode, labels in (('UNION', 'union'), ('ORACLE', 'true')):
        proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                              env=dict(env, **{mode: '1'}),
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, \
            proc.stdout[-3000:] + proc.stderr[-3000:]
        run = f'baseline_noflip_mosaic6{labels}_1e_seed0'
        assert re.search(rf'^{run}: val mAP \d+\.\d+$', proc.stdout,
                         re.M), proc.stdout
        controls[mode] = proc.stdout, mmengine.Config.fromfile(
            osp.join(out, 'configs', run + '.py'))
    stdout, cfg = controls['UNION']
    assert re.search(r'precision \d+\.\d%, recall 100\.0%', stdout)
    assert cfg.model.data_preprocessor.flip_prob == 0.0
    assert 'teacher_ckpt' not in cfg.model
    union = json.load(open(cfg.train_dataloader.dataset.dataset.ann_file))
    assert union['images'] == pseudo['images']
    assert [a for a in union['annotations'] if a['image_id'] in ids] == \
        labelled['annotations']
    cfg = controls['ORACLE'][1]
    assert cfg.train_dataloader.dataset.dataset.ann_file == \
        osp.join(osp.realpath(big), 'annotations', 'instances_train.json')
    # a checkpoint every epoch; a run cut short (here after its last
    # checkpoint, before its .done marker) resumes from its checkpoint
    # instead of training again, its log appended to
    assert cfg.default_hooks.checkpoint.interval == 1
    run = osp.join(osp.realpath(out), 'baseline_noflip_mosaic6true_1e_seed0')
    with open(run + '.log') as f:
        before = f.read()
    os.remove(run + '.done')
    proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                          env=dict(env, ORACLE='1'), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f'(resumes from {run}/epoch_1.pth)' in proc.stdout
    assert osp.isfile(run + '.done')
    with open(run + '.log') as f:
        log = f.read()
    assert log.startswith(before)
    assert 'resumed epoch: 1' in log[len(before):]
    assert 'Epoch(train)' not in log[len(before):]
    # the val mAP printed is the run's own, from before the cut
    assert controls['ORACLE'][0].splitlines()[-1] in proc.stdout
    _check_mosaics_masked_by_union(script, work, out, env, big, n)
    _check_mosaics_reuse_a_smaller_pools_soft_targets(script, work, out, env,
                                                      big, n, tmp)


def _check_mosaic_route(repo_root, work, data, tmp):
    """mosaic_route.sh on the tiny data and work dir: the route's four
    accuracy.py runs (the gap's ends, the teacher from the unflipped
    reference, its student), then the masked mosaics' student decoded at
    64 px, and the seed's table: each student's share of the gap, from the
    runs' own figures (mosaic_route_report.py's row)."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'mosaic_route.sh')
    out = osp.join(tmp, 'x_route')
    env = dict(os.environ, PY=sys.executable, WORK=work, OUT=out,
               DATA_ROOT=data, BIG_ROOT=osp.join(tmp, 'route_mosaics'),
               ACC_ARGS='--tiny --data-workers 1')
    proc = subprocess.run(['bash', script, '0', '4', '1'], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    def done_map(name):  # a distiller's metrics are its student's
        with open(osp.join(work, name, 'seed0', 'done.json')) as f:
            metrics = json.load(f)['metrics']
        return metrics.get('mAP', metrics.get('student/mAP'))

    low, high = done_map('baseline_noflip'), done_map('reference_noflip')
    run = 'kd_pred_cached_t1_nfref_noflip_mosaic4_mask_union_train_1e_' \
        'seed0_cache64'
    assert osp.isfile(osp.join(out, run + '.done'))
    # the seed's row of mosaic_route_report.py's table, finished (not
    # "0 (running)")
    line = re.search(r'^\| 0 \|.*$', proc.stdout, re.M)
    assert line, proc.stdout
    cells = [c.strip() for c in line[0].strip('|').split('|')]
    assert [float(v) for v in cells[1:5]] == pytest.approx(
        [low, high, high - low, low + 0.9 * (high - low)], abs=0.006)
    with open(osp.join(work, 'teacher_wsddn_nfref', 'seed0',
                       'done.json')) as f:
        metrics = json.load(f)['metrics']
    assert [float(v) for v in cells[5].split(' / ')] == pytest.approx(
        [metrics['mAP'], metrics['CorLoc']], abs=0.006)
    paper = re.fullmatch(r'(\S+) \((\S+)%\)', cells[6])
    assert paper, cells
    with open(osp.join(out, run + '.log')) as f:
        vals = [v for v in f if 'Epoch(val)' in v]
    mosaic = float(re.search(r'student/mAP: (\S+)', vals[-1])[1])
    # got is rounded to 0.01; the paper student's share to 1, the mosaic
    # student's to 0.1
    for got, share, value, tol in (
            (float(paper[1]), float(paper[2]),
             done_map('kd_pred_cached_t1_nfref_noflip'), 0.51),
            (float(cells[7]), float(cells[12].rstrip('%')), mosaic, 0.06)):
        assert got == pytest.approx(value, abs=0.006)
        if high != low:
            assert share == pytest.approx(
                100 * (got - low) / (high - low),
                abs=tol + 0.5 / abs(high - low))
    # a rerun trains nothing
    proc = subprocess.run(['bash', script, '0', '4', '1'], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and run + ' (' not in proc.stdout
    _check_mosaic_student_variants(repo_root, out, run, tmp)


def _check_mosaic_student_variants(repo_root, route_out, route, tmp):
    """mosaic_student_variants.sh on the route's finished tiny run: each
    variant is the route's config with its one override, trained; the
    curves printed are the logs' own; bad input is named."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'mosaic_student_variants.sh')
    out = osp.join(tmp, 'x_variants')
    env = dict(os.environ, PY=sys.executable, ROUTE_OUT=route_out, OUT=out,
               NUM='4', EPOCHS='1')
    proc = subprocess.run(['bash', script, '0', 'ema', 'shift4', 'sup0'],
                          env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    def curve(log):
        with open(log) as f:
            return ' / '.join(
                f'{float(m):.2f}'
                for m in re.findall(r'Epoch\(val\).*?student/mAP: (\S+)',
                                    f.read()))

    assert f'route: {curve(osp.join(route_out, route + ".log"))}' \
        in proc.stdout
    cfgs = {}
    for variant in ('ema', 'shift4', 'sup0'):
        name = f'{route}_{variant}'
        assert osp.isfile(osp.join(out, name + '.done'))
        assert f'{variant}: {curve(osp.join(out, name + ".log"))}' \
            in proc.stdout
        cfgs[variant] = mmengine.Config.fromfile(
            osp.join(out, 'configs', name + '.py'))
    base = mmengine.Config.fromfile(
        osp.join(route_out, 'configs', route + '.py'))
    assert [h['type'] for h in cfgs['ema'].custom_hooks][-1] == 'EMAHook'
    ckpt = torch.load(
        glob.glob(osp.join(out, route + '_ema', 'epoch_*.pth'))[0],
        map_location='cpu', weights_only=False)
    assert 'ema_state_dict' in ckpt
    assert cfgs['shift4'].model.data_preprocessor.max_translate_ratio == \
        0.0625
    assert cfgs['sup0'].model.sup_weight == 0
    with open(osp.join(out, route + '_sup0.log')) as f:
        assert 'student.loss_cls' not in f.read()
    # everything else is the route's config
    for cfg in cfgs.values():
        assert cfg.train_dataloader.dataset == base.train_dataloader.dataset
        assert cfg.train_cfg == base.train_cfg
    for args, message in (([], 'usage:'),
                          (['0', 'swa'], "unknown VARIANT 'swa'"),
                          (['9', 'ema'], 'mosaic_route.sh 9 4 1 first')):
        proc = subprocess.run(['bash', script] + args, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr


def _check_mosaics_of_another_teacher(script, work, out, env):
    """A BASE_EXP whose teacher is not teacher_wsddn (here a copy of it
    under another experiment's name) gets soft targets and pseudo-labels
    of its own in the same OUT, and leaves teacher_wsddn's files alone."""
    other = osp.join(work, 'teacher_copy', 'seed0')
    shutil.copytree(osp.join(work, 'teacher_wsddn', 'seed0'), other)
    ckpt = glob.glob(osp.join(other, 'epoch_*.pth'))[0]
    base = osp.join(work, 'kd_copy', 'seed0')
    os.makedirs(base)
    shutil.copy(osp.join(work, 'kd_staged_cached_t1', 'seed0', 'done.json'),
                base)
    saved = glob.glob(osp.join(work, 'kd_staged_cached_t1', 'seed0',
                               '*.py'))[0]
    cfg = mmengine.Config.fromfile(saved)
    cfg.model.teacher_ckpt = ckpt
    cfg.dump(osp.join(base, osp.basename(saved)))
    wsddn_soft = osp.join(out, 'soft_targets_mosaic6_seed0_tc1_td1.pkl')
    stamp = os.stat(wsddn_soft).st_mtime_ns
    proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                          env=dict(env, BASE_EXP='kd_copy'),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r'^kd_copy_mosaic6_1e_seed0: val mAP \d+\.\d+$',
                     proc.stdout, re.M), proc.stdout
    soft = osp.join(out, 'soft_targets_mosaic6_teacher_copy_seed0_tc1_'
                    'td1.pkl')
    assert mmengine.load(soft)['meta']['teacher_ckpt'] == ckpt
    assert osp.isfile(osp.join(out,
                               'pseudo_mosaic6_teacher_copy_seed0.json'))
    assert os.stat(wsddn_soft).st_mtime_ns == stamp
    cfg = mmengine.Config.fromfile(
        osp.join(out, 'configs', 'kd_copy_mosaic6_1e_seed0.py'))
    assert cfg.train_dataloader.dataset.dataset.soft_target_file == soft


def _check_mosaics_cached_at_the_students_scale(script, work, out, env,
                                                big, num):
    """CACHE_SCALE: the scenes decoded at the student's scale into a cache
    of their own, a run named for it; a bad value is named."""
    saved = glob.glob(osp.join(work, 'kd_staged_cached_t1', 'seed0',
                               '*.py'))[0]
    views = mmengine.Config.fromfile(saved).model.data_preprocessor.views
    size = views[0]['scales'][0]
    size = size if isinstance(size, int) else size[0]
    proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                          env=dict(env, CACHE_SCALE=str(size)),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    name = f'kd_staged_cached_t1_mosaic6_1e_seed0_cache{size}'
    assert re.search(rf'^{name}: val mAP \d+\.\d+$', proc.stdout,
                     re.M), proc.stdout
    cfg = mmengine.Config.fromfile(osp.join(out, 'configs', name + '.py'))
    assert cfg.train_dataloader.dataset.cache_scale == size
    images = np.load(osp.join(big, 'predecoded',
                              f'instances_train_{size}x{size}.npy'),
                     mmap_mode='r')
    assert images.shape == (num, size, size, 3)
    proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                          env=dict(env, CACHE_SCALE='64px'),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "CACHE_SCALE must be a positive number of pixels (the " \
        "student's scale), got '64px'" in proc.stderr


def _check_mosaics_masked_by_union(script, work, out, env, big, n):
    """MASK=union: the teacher's soft targets of the mosaics, zero on the
    classes none of their sources has, its pseudo-labels made from them,
    and a student trained on them (names ending in _mask_union_train); the
    labelled scenes' soft targets as they were. A bad MASK is named."""
    proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                          env=dict(env, MASK='union'), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    name = 'kd_staged_cached_t1_mosaic6_mask_union_train_1e_seed0'
    assert re.search(rf'^{name}: val mAP \d+\.\d+$', proc.stdout, re.M), \
        proc.stdout
    cfg = mmengine.Config.fromfile(osp.join(out, 'configs', name + '.py'))
    dataset = cfg.train_dataloader.dataset.dataset
    assert dataset.soft_target_file == osp.join(
        osp.realpath(out),
        'soft_targets_mosaic6_mask_union_train_seed0_tc1_td1.pkl')
    assert dataset.ann_file == osp.join(
        osp.realpath(out), 'pseudo_mosaic6_mask_union_train_seed0.json')
    masked = mmengine.load(dataset.soft_target_file)['targets']
    plain = mmengine.load(osp.join(out, 'soft_targets_mosaic6_seed0_tc1_'
                                   'td1.pkl'))['targets']
    union = json.load(open(osp.join(big, 'annotations', 'union_train.json')))
    cat_ids = sorted(c['id'] for c in union['categories'])
    classes = {img['file_name']: set() for img in union['images']}
    names = {img['id']: img['file_name'] for img in union['images']}
    for ann in union['annotations']:
        classes[names[ann['image_id']]].add(cat_ids.index(ann['category_id']))
    for i, img in enumerate(union['images']):
        key = 'train/' + img['file_name']
        if i < n:  # a labelled scene: as it was
            np.testing.assert_array_equal(masked[key], plain[key])
            continue
        keep = np.isin(np.arange(len(cat_ids)), sorted(classes[key[6:]]))
        np.testing.assert_array_equal(masked[key], plain[key] * keep)
    pseudo = json.load(open(dataset.ann_file))
    for ann in pseudo['annotations']:
        assert cat_ids.index(ann['category_id']) in \
            classes[names[ann['image_id']]]
    proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                          env=dict(env, MASK='sources'), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode != 0
    assert "MASK must be 'union' (or unset), got 'sources'" in proc.stderr
    proc = subprocess.run(['bash', script, work, '6', '1', '0', out],
                          env=dict(env, MASK='union', ORACLE='1'),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "MASK masks the teacher's labels; the UNION and ORACLE controls " \
        'have none' in proc.stderr


def _check_mosaics_reuse_a_smaller_pools_soft_targets(script, work, out,
                                                      env, big, n, tmp):
    """A pool of 9 drawn with REUSE_FROM the pool of 6 (a root named
    ..._mosaic6): its mosaics are linked and the teacher's soft targets of
    that pool's run are reused (REUSE_TAG=mosaic6), so only the 3 new
    mosaics go through the teacher."""
    small = osp.join(tmp, 'tiny_mosaic6')
    os.symlink(big, small)
    larger = osp.join(tmp, 'mosaic9')
    proc = subprocess.run(['bash', script, work, '9', '1', '0', out],
                          env=dict(env, BIG_ROOT=larger, REUSE_FROM=small),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    old = osp.join(osp.realpath(out), 'soft_targets_mosaic6_seed0_tc1_td1.pkl')
    assert f"{n + 6} of {n + 9} images' soft targets reused from {old}" in \
        proc.stdout, proc.stdout[-3000:]
    assert f'{n + 9} images -> ' in proc.stdout
    assert '(3 computed in' in proc.stdout
    assert re.search(r'^kd_staged_cached_t1_mosaic9_1e_seed0: val mAP '
                     r'\d+\.\d+$', proc.stdout, re.M), proc.stdout
    reused = mmengine.load(old)['targets']
    soft = mmengine.load(osp.join(out, 'soft_targets_mosaic9_seed0_tc1_'
                                  'td1.pkl'))['targets']
    assert len(soft) == n + 9 and reused.keys() < soft.keys()
    for key, value in reused.items():
        np.testing.assert_array_equal(soft[key], value)


def _check_soft_target_temperature_ablation(repo_root, work, data, tmp):
    """soft_target_temperature_ablation.sh on the finished tiny work dir at
    T = 2: the teacher's soft targets at that temperature, stage 2 on them
    from kd_staged_cached's saved config, and the val mAP printed beside
    the baseline's and kd_staged_cached's; a run cut after its last
    checkpoint resumes from it without computing its soft targets
    again."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'soft_target_temperature_ablation.sh')
    out = osp.realpath(osp.join(tmp, 'x_temperature'))
    cmd = ['bash', script, work, '0', '2', out]
    env = dict(os.environ, PY=sys.executable, DATA_ROOT=data)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    meta = mmengine.load(osp.join(out, 'soft_targets_seed0_t2.pkl'))['meta']
    assert meta['cls_temperature'] == meta['det_temperature'] == 2.0
    run = osp.join(out, 'kd_staged_cached_t2', 'seed0')
    with open(run + '.log') as f:
        before = f.read()
    baseline, t05 = (json.load(open(osp.join(work, name, 'seed0',
                                             'done.json')))['metrics'][key]
                     for name, key in (('baseline', 'mAP'),
                                       ('kd_staged_cached', 'student/mAP')))
    val = re.findall(r'Epoch\(val\).*?mAP: ([0-9.]+)', before)[-1]
    assert (f'seed 0: baseline {baseline}, T=0.5 (kd_staged_cached) {t05}'
            in proc.stdout), proc.stdout
    assert f'  T=2: {val}' in proc.stdout, proc.stdout
    assert 'load student. in model from' in before  # stage 1's student
    os.remove(run + '.done')
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'soft targets (' not in proc.stdout
    epoch = mmengine.Config.fromfile(
        osp.join(out, 'configs', 'kd_staged_cached_t2_seed0.py')
    ).train_cfg.max_epochs
    assert f'(resumes from {run}/epoch_{epoch}.pth)' in proc.stdout
    with open(run + '.log') as f:
        log = f.read()
    assert log.startswith(before)
    assert 'Epoch(train)' not in log[len(before):]
    assert f'  T=2: {val}' in proc.stdout


def _check_staged_gain_decomposition(repo_root, work):
    """staged_gain_decomposition.sh on the finished tiny work dir: each run
    is kd_staged_cached_t1's saved config with its one change (no
    prediction term; no stage-1 start), trained, and reported."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'staged_gain_decomposition.sh')
    out = osp.join(work, 'decomposition')
    proc = subprocess.run(
        ['bash', script, work, '0', 'stage1_labels scratch_pred', out],
        env=dict(os.environ, PY=sys.executable),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for run in ('stage1_labels', 'scratch_pred'):
        assert re.search(rf'^  {run}: \d+\.\d+$', proc.stdout, re.M), \
            proc.stdout
    log = open(osp.join(out, 'stage1_labels', 'seed0.log')).read()
    assert 'load student. in model from' in log
    assert re.findall(r'distill\.loss_pred: ([\d.]+)', log)
    assert {float(v) for v in re.findall(r'distill\.loss_pred: ([\d.]+)',
                                         log)} == {0.0}
    log = open(osp.join(out, 'scratch_pred', 'seed0.log')).read()
    assert 'load student. in model from' not in log
    assert any(float(v) > 0 for v in
               re.findall(r'distill\.loss_pred: ([\d.]+)', log))
    # an unknown run is named
    proc = subprocess.run(['bash', script, work, '0', 'labels_only', out],
                          env=dict(os.environ, PY=sys.executable),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "unknown run 'labels_only'" in proc.stderr


def _check_teacher_swap_students(repo_root, work, tmp):
    """teacher_swap_students.sh on the finished tiny work dir A and a work
    dir B that shares A's teacher and stage 2 but has its own copy of
    stage 1's checkpoint: each swapped cell starts from the other work
    dir's stage 1, the same-teacher cells are read from accuracy.py's
    runs, and a rerun trains nothing."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'teacher_swap_students.sh')
    other = osp.join(tmp, 'acc_b')
    for name in ('teacher_wsddn', 'kd_staged_cached_noflip'):
        os.makedirs(osp.join(other, name))
        os.symlink(osp.join(work, name, 'seed0'),
                   osp.join(other, name, 'seed0'))
    done = json.load(open(osp.join(work, 'kd_stage1', 'seed0',
                                   'done.json')))
    stage1 = osp.join(other, 'kd_stage1', 'seed0')
    os.makedirs(stage1)
    ckpt_b = osp.join(stage1, osp.basename(done['checkpoint']))
    shutil.copy(done['checkpoint'], ckpt_b)
    json.dump(dict(done, checkpoint=ckpt_b),
              open(osp.join(stage1, 'done.json'), 'w'))
    out = osp.join(tmp, 'swap')
    env = dict(os.environ, PY=sys.executable)
    # a work dir without the finished runs is named before any training
    missing = subprocess.run(['bash', script, work, tmp, '0', '', out],
                             env=env, capture_output=True, text=True,
                             timeout=600)
    assert missing.returncode == 1
    run = osp.join(osp.realpath(tmp), 'kd_staged_cached_noflip', 'seed0')
    assert (f'missing {run}/done.json: run tools/benchmarks/accuracy.py '
            '--only kd_staged_cached_noflip --seed 0 first') in \
        missing.stderr
    assert not os.path.exists(out)
    cmd = ['bash', script, work, other, '0', '', out]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for feat, ckpt in (('acc', done['checkpoint']), ('acc_b', ckpt_b)):
        pred = 'acc_b' if feat == 'acc' else 'acc'
        log = open(osp.join(out, f'feat-{feat}_pred-{pred}',
                            'seed0.log')).read()
        assert f'load student. in model from: {ckpt}' in log
    rows = re.findall(r'^\| (acc(?:_b)?) \| (acc(?:_b)?) \| (\d+\.\d) \| '
                      r'(\d+\.\d) \(one value\) \|$', proc.stdout, re.M)
    assert [r[:2] for r in rows] == [('acc', 'acc'), ('acc', 'acc_b'),
                                     ('acc_b', 'acc'), ('acc_b', 'acc_b')]
    metrics = json.load(open(osp.join(work, 'kd_staged_cached_noflip',
                                      'seed0', 'done.json')))['metrics']
    assert rows[0][2] == rows[3][2] == '%.1f' % metrics['student/mAP']
    _assert_rerun_trains_nothing(cmd, env, proc, 'stage-2 seed 0 (',
                                 r'^\| acc.*$')


def _check_stage1_seed_students(repo_root, work, tmp):
    """stage1_seed_students.sh on the finished tiny work dir, one extra
    stage-1 seed: stage 1 runs again at that seed, stage 2 at the work
    dir's seed starts from it, the table reads the work dir's seed from
    accuracy.py's run, a rerun trains nothing, and another seed of the
    work dir trains its own runs; a work dir without the finished runs,
    two work dirs of one name and a seed given twice are refused before
    any training."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'stage1_seed_students.sh')
    out = osp.join(tmp, 'stage1_seeds')
    env = dict(os.environ, PY=sys.executable, SEED='0', STAGE1_SEEDS='5',
               OUT=out)
    missing = subprocess.run(['bash', script, work, tmp], env=env,
                             capture_output=True, text=True, timeout=600)
    assert missing.returncode == 1
    run = osp.join(osp.realpath(tmp), 'kd_stage1', 'seed0')
    assert (f'missing {run}/done.json: run tools/benchmarks/accuracy.py '
            '--only kd_stage1 --seed 0 first') in missing.stderr
    assert not os.path.exists(out)
    twice = subprocess.run(['bash', script, work, work], env=env,
                           capture_output=True, text=True, timeout=600)
    assert twice.returncode == 1
    assert 'two work dirs named acc: their runs would share $OUT/acc' in \
        twice.stderr
    _assert_repeated_seed_refused(script, work, env)
    assert not os.path.exists(out)
    cmd = ['bash', script, work]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stage1 = osp.join(out, 'acc', 'seed0', 'stage1_seed5')
    assert re.search(r'^\s+seed: 5$', open(stage1 + '.log').read(), re.M)
    stage2 = open(osp.join(out, 'acc', 'seed0', 'stage2_seed5.log')).read()
    assert re.search(r'^\s+seed: 0$', stage2, re.M)
    ckpt = sorted(glob.glob(osp.join(stage1, 'epoch_*.pth')))[-1]
    assert f'load student. in model from: {ckpt}' in stage2
    metrics = json.load(open(osp.join(work, 'kd_staged_cached_noflip',
                                      'seed0', 'done.json')))['metrics']
    row = re.findall(r'^\| acc \| (\d+\.\d) (\d+\.\d) \| (\d+\.\d) ± '
                     r'(\d+\.\d) \| 0\.0 0\.0 \| 0\.0 ± 0\.0 \|$',
                     proc.stdout, re.M)
    assert len(row) == 1, proc.stdout
    first, second, mean, _ = row[0]
    assert first == '%.1f' % metrics['student/mAP']
    assert second == '%.1f' % float(re.findall(
        r'Epoch\(val\).*?mAP: ([0-9.]+)', stage2)[-1])
    assert abs(float(mean) - (float(first) + float(second)) / 2) <= 0.1
    _assert_rerun_trains_nothing(cmd, env, proc, 'acc/seed0/stage1_seed5 (',
                                 r'^\| acc .*$')
    # another seed of the work dirs trains its own runs (its first
    # version read seed 0's instead): here seed 1 is seed 0's runs again
    for name in ('kd_stage1', 'kd_staged_cached_noflip'):
        os.symlink(osp.join(work, name, 'seed0'),
                   osp.join(work, name, 'seed1'))
    seed1 = subprocess.run(cmd, env=dict(env, SEED='1'), capture_output=True,
                           text=True, timeout=600)
    for name in ('kd_stage1', 'kd_staged_cached_noflip'):
        os.unlink(osp.join(work, name, 'seed1'))
    assert seed1.returncode == 0, seed1.stderr[-3000:]
    assert 'acc/seed1/stage1_seed5 (' in seed1.stdout
    assert 'acc/seed1/stage2_seed5 (' in seed1.stdout
    assert re.search(r'^\s+seed: 1$', open(osp.join(
        out, 'acc', 'seed1', 'stage2_seed5.log')).read(), re.M)


def _check_stage1_graft_students(repo_root, work, tmp):
    """stage1_graft_students.sh on the tiny work dir and the stage-1 seed
    that _check_stage1_seed_students trained: each off-diagonal run starts
    from a graft of one seed's stem and layer1 onto the other's rest, the
    diagonal is read from the earlier runs, and a rerun trains nothing; a
    stage-1 seed not yet trained is refused, naming the command, and so is
    a seed given twice."""
    script = osp.join(repo_root, 'tools', 'analysis_tools',
                      'stage1_graft_students.sh')
    # the script names its runs by their real paths
    out, work = osp.realpath(osp.join(tmp, 'stage1_seeds')), osp.realpath(work)
    env = dict(os.environ, PY=sys.executable, SEED='0', STAGE1_SEEDS='5',
               OUT=out)
    _assert_repeated_seed_refused(script, work, env)
    missing = subprocess.run(['bash', script, work],
                             env=dict(env, STAGE1_SEEDS='6'),
                             capture_output=True, text=True, timeout=600)
    assert missing.returncode == 1
    assert (f'missing {out}/acc/seed0/stage2_seed6.done: run SEED=0 '
            f'STAGE1_SEEDS="6" OUT={out} bash tools/analysis_tools/'
            f'stage1_seed_students.sh {work} first') in missing.stderr
    cmd = ['bash', script, work]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = osp.join(out, 'acc', 'seed0')
    stage1 = {
        '0': json.load(open(osp.join(work, 'kd_stage1', 'seed0',
                                     'done.json')))['checkpoint'],
        '5': sorted(glob.glob(osp.join(runs, 'stage1_seed5',
                                       'epoch_*.pth')))[-1]
    }
    # tools/train.py checkpoints hold more than weights (their meta)
    states = {s: torch.load(c, map_location='cpu',
                            weights_only=False)['state_dict']
              for s, c in stage1.items()}
    maps = {}
    for a, b in (('0', '5'), ('5', '0')):
        run = osp.join(runs, f'stage2_graft_a{a}_r{b}')
        graft = torch.load(run + '.pth', map_location='cpu',
                           weights_only=False)['state_dict']
        for key, value in graft.items():
            source = a if key.startswith(('student.backbone.conv1.',
                                          'student.backbone.bn1.',
                                          'student.backbone.layer1.')) else b
            assert torch.equal(value, states[source][key]), key
        log = open(run + '.log').read()
        assert f'load student. in model from: {run}.pth' in log
        assert re.search(r'^\s+seed: 0$', log, re.M)
        maps[a, b] = float(re.findall(r'Epoch\(val\).*?mAP: ([0-9.]+)',
                                      log)[-1])
    maps['0', '0'] = json.load(open(osp.join(
        work, 'kd_staged_cached_noflip', 'seed0',
        'done.json')))['metrics']['student/mAP']
    maps['5', '5'] = float(re.findall(
        r'Epoch\(val\).*?mAP: ([0-9.]+)',
        open(osp.join(runs, 'stage2_seed5.log')).read())[-1])
    for a in ('0', '5'):
        row = re.findall(rf'^\| {a} \| (\d+\.\d) \| (\d+\.\d) \| '
                         r'\d+\.\d ± \d+\.\d \|$', proc.stdout, re.M)
        assert row == [tuple('%.1f' % maps[a, b] for b in ('0', '5'))], \
            proc.stdout
    cols = re.findall(r'^\| column mean \| (\d+\.\d) \| (\d+\.\d) \|  \|$',
                      proc.stdout, re.M)
    assert len(cols) == 1, proc.stdout
    for col, b in zip(cols[0], ('0', '5')):
        assert abs(float(col) - (maps['0', b] + maps['5', b]) / 2) <= 0.051
    # the grid file holds every cell
    grid = [line.split() for line in open(osp.join(runs, 'grid.tsv'))]
    assert [(a, b) for a, b, _ in grid] == [('0', '0'), ('0', '5'),
                                            ('5', '0'), ('5', '5')]
    for a, b, value in grid:
        assert abs(float(value) - maps[a, b]) < 1e-3
    # two seeds: the four cells' residual is |a00 - a05 - a50 + a55| / 2
    residual = abs(maps['0', '0'] - maps['0', '5'] - maps['5', '0'] +
                   maps['5', '5']) / 2
    summary = re.findall(r"^trained part's seed \(row means\): sd \d+\.\d, "
                         r'F \S+, p \S+; rest.s seed \(column means\): sd '
                         r'\d+\.\d, F \S+, p \S+; residual sd (\d+\.\d) '
                         r'\(1 degrees of freedom\)$', proc.stdout, re.M)
    assert len(summary) == 1, proc.stdout
    assert abs(float(summary[0]) - residual) <= 0.051
    _assert_rerun_trains_nothing(cmd, env, proc,
                                 'acc/seed0/stage2_graft_a0_r5 (',
                                 r'^\| (\d|column).*$')


def _assert_repeated_seed_refused(script, work, env):
    """The stage-1 seed scripts refuse a stage-1 seed equal to SEED (0)."""
    proc = subprocess.run(['bash', script, work],
                          env=dict(env, STAGE1_SEEDS='5 0'),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert ('seed(s) 0 repeated in SEED=0 STAGE1_SEEDS="5 0": give each '
            'seed once') in proc.stderr


def _assert_rerun_trains_nothing(cmd, env, first, marker, rows):
    """A rerun of ``cmd`` prints no ``marker`` (the line of a run it
    trains), which the first run (``first``) printed, and the same table
    rows (the lines matching ``rows``)."""
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert marker in first.stdout
    assert marker not in rerun.stdout
    assert re.findall(rows, rerun.stdout, re.M) == re.findall(
        rows, first.stdout, re.M)


def test_onnx_latency_tiny(run_script, tmp_path):
    pytest.importorskip('mmdeploy')
    pytest.importorskip('onnxruntime')
    out = run_script('onnx_latency.py', '--tiny', '--batch-sizes', '1',
                     '2', '--out', str(tmp_path))
    header, rows = _table(out, 'batch')
    assert header == ['batch', 'input', 'PyTorch ms', 'ONNX Runtime ms',
                      'PyTorch / ONNX Runtime', 'max abs diff']
    assert [r['batch'] for r in rows] == ['1', '2']
    for row in rows:
        for col in header[2:]:
            assert math.isfinite(_number(row[col])), row
        assert _number(row['max abs diff']) < 1e-4


def test_region_selection_tiny(run_script):
    out = run_script('region_selection.py', '--images', '4', '--regions',
                     '20', '--sampled', '5', '--dim', '8', '--repeats', '2')
    header, rows = _table(out, 'selection + gather')
    ops = {r['selection + gather']: _number(r['top-level ATen ops'])
           for r in rows}
    assert set(ops) == {'per image', 'batched'}
    assert ops['batched'] < ops['per image']


def test_cache_scale_tiny(run_script, tiny_multidigits):
    out = run_script('cache_scale.py', '--data-root', tiny_multidigits,
                     '--scale', '32', '--batch-size', '4', '--batches', '2',
                     '--rounds', '1', '--workers', '0')
    header, rows = _table(out, 'what')
    assert header[-2:] == ['speed-up', 'note']
    assert [(r['what'].split()[1], r['cache']) for r in rows] == [
        ('alone', 'full size'), ('alone', '32 px (cache_scale)'),
        ('+', 'full size'), ('+', '32 px (cache_scale)')]
    for row in rows:
        assert _number(row['img/s']) > 0
    # 16 scenes of 128 x 128 x 3 bytes, and of 32 x 32 x 3: 1/16
    full, small = (_number(r['file']) for r in rows[:2])
    assert full == pytest.approx(16 * 128 * 128 * 3 / 2**20, abs=0.01)
    assert small == pytest.approx(full / 16, abs=0.01)
    assert osp.isfile(osp.join(tiny_multidigits, 'predecoded',
                               'instances_train_32x32.npy'))
    assert rows[0]['note'].startswith('opened or built in')


def test_sample_packing_tiny(run_script, tiny_multidigits):
    out = run_script('sample_packing.py', '--data-root', tiny_multidigits,
                     '--proposal-file', 'proposals/ss_train.pkl',
                     '--batches', '2', '--rounds', '1')
    header, rows = _table(out, 'view')
    assert header[-1] == 'speed-up'
    assert [(r['view'], r['metainfo'].split()[0]) for r in rows] == [
        ('student view', 'set_metainfo'), ('student view', 'set_field'),
        ('two views', 'set_metainfo'), ('two views', 'set_field')]
    for row in rows:
        assert math.isfinite(_number(row['img/s'])) and \
            _number(row['img/s']) > 0
    # the preprocessor keeps its own way of setting metainfo afterwards
    from mmkdwsd.models.data_preprocessors import \
        predecoded_data_preprocessor as module
    assert module._with_metainfo.__module__ == module.__name__


def test_step_ops_tiny(run_script):
    out = run_script('step_ops.py', '--setting', 'demo', '--batch', '2',
                     '--repeats', '1', '--stages', 'baseline', 'stage2',
                     'stage2-cached')
    header, rows = _table(out, 'step')
    ops = {r['step']: _number(r['top-level ATen ops']) for r in rows}
    assert set(ops) == {'baseline', 'stage2', 'stage2-cached'}
    # the teacher's forward and the soft targets cost operations
    assert ops['baseline'] < ops['stage2-cached'] < ops['stage2']


def test_gpu_session_waves_follow_dependencies(repo_root):
    """gpu_session.sh's waves hold every accuracy.py experiment once, each
    after its teacher, its reference and the stage 1 it starts from."""
    acc = load_script(osp.join(repo_root, TOOLS, 'accuracy.py'),
                      'bench_accuracy_waves')
    script = osp.join(repo_root, TOOLS, 'gpu_session.sh')
    proc = subprocess.run(
        ['bash', '-c', 'source <(sed -n "/^WAVES=/,/^ALL_RUNS=/p" "$0"); '
         'printf "%s\\n" "${WAVES[@]}"', script],
        capture_output=True, text=True, check=True)
    waves = [line.split() for line in proc.stdout.splitlines()]
    wave_of = {name: i for i, wave in enumerate(waves) for name in wave}
    assert sorted(wave_of) == sorted(acc.EXPERIMENTS)
    assert sum(len(w) for w in waves) == len(acc.EXPERIMENTS)
    for name, (_, kind, teacher, *start) in acc.EXPERIMENTS.items():
        needs = [teacher, *start] if teacher else list(start)
        if kind == 'teacher' and not start:
            needs.append('reference')
        for need in needs:
            assert wave_of[need] < wave_of[name], (name, need)


def test_every_oicr_run_has_its_wsddn_counterpart(repo_root):
    """accuracy.py's WSDDN_OF pairs each OICR run that learns the labels
    (and the OICR teacher) with the same recipe on the WSDDN teacher: the
    same start (staged or not) and the same flips."""
    acc = load_script(osp.join(repo_root, TOOLS, 'accuracy.py'),
                      'bench_accuracy_pairs')
    exps = acc.EXPERIMENTS
    refined = {name for name, (_, kind, *_) in exps.items()
               if kind == 'teacher' and name.startswith('teacher_oicr')}
    oicr = refined | {
        name for name, (_, kind, teacher, *_) in exps.items()
        if teacher in refined and name not in acc.STAGE1_RUNS}
    assert {'teacher_oicr', 'teacher_oicr_graph'} <= refined
    assert set(acc.WSDDN_OF) == oicr
    for name, other in acc.WSDDN_OF.items():
        assert exps[other][1] == exps[name][1]
        if name in refined:
            assert other == 'teacher_wsddn'
            continue
        assert exps[other][2] == 'teacher_wsddn', (name, other)
        assert (len(exps[other]) > 3) == (len(exps[name]) > 3), (name, other)
        assert other.endswith('_noflip') == name.endswith('_noflip')


def test_soft_target_names_differ_per_source_temperature_and_view(
        repo_root):
    """Each kind of cached soft targets accuracy.py computes has its own
    file next to the teacher's checkpoint: the temperatures, the flipped
    view and the refinement streams' targets never share one."""
    from mmengine.config import Config
    acc = load_script(osp.join(repo_root, TOOLS, 'accuracy.py'),
                      'bench_accuracy_names')
    names = {
        name: acc.soft_target_name(
            Config.fromfile(osp.join(repo_root, acc.EXPERIMENTS[name][0])))
        for name in ('kd_staged_cached', 'kd_staged_cached_t1',
                     'kd_staged_cached_flip', 'kd_staged_cached_oicr_noflip',
                     'kd_staged_cached_refined_oicr_noflip',
                     'kd_staged_cached_mixed_oicr_noflip')
    }
    assert names == dict(
        kd_staged_cached='soft_targets.pkl',
        kd_staged_cached_t1='soft_targets_tc1_td1.pkl',
        kd_staged_cached_flip='soft_targets_flip.pkl',
        kd_staged_cached_oicr_noflip='soft_targets.pkl',
        kd_staged_cached_refined_oicr_noflip='soft_targets_refined.pkl',
        kd_staged_cached_mixed_oicr_noflip='soft_targets_mixed.pkl')
    # a mixed source keeps the temperatures, a refined one has none
    cfg = Config.fromfile(
        osp.join(repo_root,
                 acc.EXPERIMENTS['kd_staged_cached_mixed_oicr_noflip'][0]))
    cfg.model.pred_distill.update(cls_temperature=1., det_temperature=1.)
    assert acc.soft_target_name(cfg) == 'soft_targets_mixed_tc1_td1.pkl'
    cfg.model.pred_distill.target_source = 'refined'
    assert acc.soft_target_name(cfg) == 'soft_targets_refined.pkl'


def test_gpu_session_dry_run(repo_root, tmp_path):
    """gpu_session.sh's accuracy and profile parts on the CPU (TINY=1): the
    waves run in dependency order, only finished runs' checkpoints are
    packed, PROFILE profiles the training steps, and $OUT holds four files
    (the device tool returns at most 8)."""
    import tarfile
    acc, out = tmp_path / 'acc', tmp_path / 'out'
    # an unfinished run from an earlier call: its checkpoint stays out
    unfinished = acc / 'kd_stage1' / 'seed0'
    unfinished.mkdir(parents=True)
    (unfinished / 'epoch_1.pth').write_bytes(b'partial')
    env = dict(
        os.environ, PATH=osp.dirname(sys.executable) + os.pathsep +
        os.environ['PATH'], OUT=str(out), TINY='1', SKIP_TESTS='1',
        SECTIONS='none', MD_SECTIONS='', ACC_DIR=str(acc),
        DATA_ROOT=str(tmp_path / 'md'), SEEDS='0 1',
        ACCURACY='reference teacher_wsddn', PROFILE='multidigits',
        STUDENT_EPOCHS='3', TEACHER_EPOCHS='2')  # --tiny: 1 epoch anyway
    proc = subprocess.run(
        ['bash', osp.join(repo_root, TOOLS, 'gpu_session.sh')], env=env,
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # at most 8 files come back from the device: the rest is packed
    assert sorted(p.name for p in out.iterdir()) == [
        'accuracy_runs.tar.gz', 'device.txt', 'session.tar.gz', 'summary.txt'
    ]
    summary = (out / 'summary.txt').read_text()
    for seed in (0, 1):
        for name in ('reference', 'teacher_wsddn'):
            assert f"accuracy_seed{seed}_{name}: [{name} seed {seed}]" \
                in summary, summary
    session = tmp_path / 'session'
    with tarfile.open(out / 'session.tar.gz') as tar:
        tar.extractall(session)
    for seed in (0, 1):  # the teachers found their references
        for name in ('reference', 'teacher_wsddn'):
            assert (session / 'accuracy' / f'{name}_seed{seed}_done.json'
                    ).is_file(), (session / f'accuracy_seed{seed}_{name}.log'
                                  ).read_text()[-2000:]
    profiles = session / 'profile_multidigits' / 'profiles'
    assert (profiles / 'stage2-cached.txt').is_file(), (
        session / 'profile_multidigits.log').read_text()[-2000:]
    with tarfile.open(out / 'accuracy_runs.tar.gz') as tar:
        ckpts = sorted(
            name.split('/acc/')[1] for name in tar.getnames()
            if name.endswith('.pth'))
    assert ckpts == [
        'reference/seed0/epoch_1.pth', 'reference/seed1/epoch_1.pth',
        'teacher_wsddn/seed0/epoch_1.pth', 'teacher_wsddn/seed1/epoch_1.pth'
    ]


def _run_probe(repo_root, out, env) -> str:
    """proposal_method_probe.sh on seed 0 with Selective Search; stdout."""
    proc = subprocess.run(
        ['bash', osp.join(repo_root, 'tools', 'analysis_tools',
                          'proposal_method_probe.sh'), '0', 'ss',
         str(out)], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_proposal_method_probe_tiny(repo_root, tmp_path):
    """proposal_method_probe.sh end to end on tiny data (--tiny), with
    Selective Search: both teachers start from the benchmark's reference,
    and the recall, teacher and top-box tables hold them."""
    data, bench, out = tmp_path / 'md', tmp_path / 'bench', tmp_path / 'out'
    env = dict(os.environ, PYTHONPATH=repo_root)
    subprocess.run(
        [sys.executable, osp.join(repo_root, TOOLS, 'accuracy.py'), '--tiny',
         '--only', 'reference', '--data-root', str(data), '--work-dir',
         str(bench), '--data-workers', '1'],
        cwd=repo_root, env=env, check=True, capture_output=True, timeout=600)
    env.update(PY=sys.executable, NUM_TRAIN='16', NUM_VAL='8',
               DATA=str(data), BENCH=str(bench), EXTRA='--tiny', WORKERS='1')
    text = _run_probe(repo_root, out, env)
    assert '/proposals/ss_val.pkl | 8 |' in text, text
    assert (out / 'ss' / 'reference' / 'seed0').is_symlink()
    assert '### teachers on ss proposals' in text
    for t in ('teacher_wsddn', 'teacher_oicr'):
        assert (out / 'ss' / t / 'seed0' / 'done.json').is_file()
        assert f'| {t}-ss | ' in text, text
    assert text.count('| teacher WSDDN 128 px |') == 1, text
    # the OICR teacher's row, then its seed-by-seed rows against WSDDN
    teachers = text.split('### teachers on ss proposals')[1].split('###')[0]
    assert teachers.count('| teacher OICR 128 px |') == 3, teachers
    for metric in ('CorLoc', 'det mAP@0.5'):
        assert (f'| teacher OICR 128 px | teacher_wsddn | {metric} | 0 |'
                in teachers), teachers
    assert '| OICR run | against (WSDDN) |' in teachers


def test_proposal_method_probe_students_tiny(repo_root, tmp_path):
    """The probe's subset mode end to end (--tiny, Selective Search): its
    own reference on the subset (OWN_REFERENCE=1, no benchmark runs), one
    teacher (TEACHERS) and students after it (STUDENTS, a staged one among
    them), whose table follows the teachers'."""
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHONPATH=repo_root, PY=sys.executable,
               NUM_TRAIN='16', NUM_VAL='8', DATA=str(tmp_path / 'md'),
               BENCH=str(tmp_path / 'no_bench'), EXTRA='--tiny', WORKERS='1',
               OWN_REFERENCE='1', TEACHERS='teacher_wsddn',
               STUDENTS='baseline_noflip kd_stage1 kd_staged_cached_noflip')
    text = _run_probe(repo_root, out, env)
    ref = out / 'ss' / 'reference' / 'seed0'
    assert not ref.is_symlink() and (ref / 'done.json').is_file()
    assert not (out / 'ss' / 'teacher_oicr').exists()
    for run in ('teacher_wsddn', 'baseline_noflip', 'kd_stage1',
                'kd_staged_cached_noflip'):
        assert (out / 'ss' / run / 'seed0' / 'done.json').is_file(), run
    students = text.split('### students on ss proposals')[1]
    assert students.split('### top box')[0].count('| teacher') == 0
    assert ('| student 64 px, KD staged, stage 2 on cached soft targets, '
            'no flip (WSDDN) | 0 |') in students, students
    assert '| teacher_wsddn-ss | ' in text and 'teacher_oicr-ss' not in text
