# Copyright (c) mmkdwsd authors. All rights reserved.
"""tools/run_pipeline.py: finished stages are never retrained, interrupted
stages resume, and the results table holds the three models."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from tests.test_tools import load_script


@pytest.fixture(scope='module')
def tool(repo_root):
    return load_script(osp.join(repo_root, 'tools', 'run_pipeline.py'))


class _NoRunner:
    """Stands in for mmengine's Runner: records the config, never trains."""

    built = []

    @classmethod
    def from_cfg(cls, cfg):
        cls.built.append(cfg)
        raise RuntimeError('a Runner was built')


def _cfg(work_dir):
    return Config(dict(work_dir=str(work_dir), train_cfg=dict(max_epochs=3)))


def test_finished_stage_is_not_retrained(tool, tmp_path, monkeypatch):
    monkeypatch.setattr(tool, 'Runner', _NoRunner)
    ckpt = tmp_path / 'epoch_3.pth'
    ckpt.write_bytes(b'weights')
    (tmp_path / 'done.json').write_text(
        json.dumps(
            dict(checkpoint=str(ckpt), metrics={'mAP': 50.0}, seconds=1.0)))
    result = tool.train_stage('teacher', _cfg(tmp_path))
    assert result['status'] == 'done earlier'
    assert result['metrics'] == {'mAP': 50.0}
    assert _NoRunner.built == []


def test_interrupted_stage_resumes(tool, tmp_path, monkeypatch):
    monkeypatch.setattr(tool, 'Runner', _NoRunner)
    _NoRunner.built.clear()
    # a marker whose checkpoint is gone does not count as finished
    (tmp_path / 'done.json').write_text(
        json.dumps(dict(checkpoint=str(tmp_path / 'missing.pth'))))
    assert tool.read_done(str(tmp_path)) is None
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    with pytest.raises(RuntimeError, match='a Runner was built'):
        tool.train_stage('stage1', _cfg(tmp_path))
    assert _NoRunner.built[-1].resume is True
    os.remove(tmp_path / 'last_checkpoint')
    with pytest.raises(RuntimeError, match='a Runner was built'):
        tool.train_stage('stage1', _cfg(tmp_path))
    assert _NoRunner.built[-1].resume is False
    # killed after its first checkpoint, before the pointer was written
    (tmp_path / 'epoch_1.pth').write_bytes(b'weights')
    with pytest.raises(RuntimeError, match='a Runner was built'):
        tool.train_stage('stage1', _cfg(tmp_path))
    assert _NoRunner.built[-1].resume is True


def test_results_table(tool):
    metrics = dict(mAP=40.0, CF1=30.0, OF1=35.0, CF1_top3=31.0, OF1_top3=36.)
    results = dict(
        data=dict(status='found'),
        reference=dict(
            status='trained',
            seconds=4.0,
            metrics={k: v + 30
                     for k, v in metrics.items()}),
        teacher=dict(
            status='trained',
            seconds=10.0,
            metrics=dict(metrics, mAP=80.0, CorLoc=75.0, det_mAP=50.0)),
        baseline=dict(status='trained', seconds=5.0, metrics=metrics),
        stage2=dict(
            status='trained',
            seconds=7.0,
            metrics={
                **{
                    f'student/{k}': v + 20
                    for k, v in metrics.items()
                },
                **{
                    f'teacher/{k}': v + 40
                    for k, v in metrics.items()
                }
            }))
    table = tool.results_table(results, None)
    lines = table.splitlines()
    assert lines[0].startswith('| model | input | mAP | CF1 | OF1 |')
    assert lines[0].endswith('| CorLoc | det mAP@0.5 |')
    assert lines[2] == ('| student, no distillation | 32 px | 40.0 | 30.0 | '
                        '35.0 | 31.0 | 36.0 | - | - |')
    assert lines[3].startswith("| student at the teacher's resolution, no "
                               'distillation | 64 px | 70.0 |')
    assert lines[4] == ('| teacher (WSDDN, frozen) | 64 px | 80.0 | 30.0 | '
                        '35.0 | 31.0 | 36.0 | 75.0 | 50.0 |')
    assert lines[5].startswith('| student, distilled (KD-WSD) | 32 px | 60.0')
    # +20 mAP of a 30 mAP gap; error 60 -> 40
    assert ('Distillation: +20.0 mAP over the baseline (error cut by 33%), '
            '67% of the 30.0 mAP resolution gap recovered.') in table
    assert '| teacher | trained | 10.0 |' in table
    assert '| data | found | - |' in table
    # --teacher-config names the teacher in the table
    args = type('Args', (), dict(
        teacher_config='configs/wsddn/oicr_resnet18-tiny_1xb8-6e_'
        'multidigits.py'))
    assert '| teacher (OICR, frozen) |' in tool.results_table(results, args)


def test_each_stage_gets_its_own_visualizer(tool, tmp_path, repo_root):
    # MMEngine keeps one Visualizer instance per name in a process: stages
    # sharing the config's name would all log into the first stage's folder
    args = type('Args', (), dict(seed=0, data_root=str(tmp_path), workers=0))
    cfg = osp.join(repo_root, 'configs', 'mlc',
                   'resnet18-tiny_1xb8-12e_multidigits-32px.py')
    names = {
        tool.load_cfg(cfg, str(tmp_path / stage), args).visualizer.name
        for stage in ('reference', 'baseline', 'baseline')
    }
    assert len(names) == 3


def test_soft_target_stage_runs_once(tool, tmp_path, monkeypatch):
    calls = []

    def fake_cache(cfg, out, **kwargs):
        calls.append(out)
        with open(out, 'wb') as f:
            f.write(b'targets')

    monkeypatch.setattr(tool, 'cache_soft_targets', fake_cache)
    cfg = Config(dict(train_dataloader=dict(num_workers=0)))
    work_dir = str(tmp_path / 'soft_targets')
    os.makedirs(work_dir)
    first = tool.soft_target_stage(cfg, work_dir)
    assert first['status'] == 'computed'
    assert calls == [osp.join(work_dir, 'train.pkl')]
    assert first['checkpoint'] == calls[0]
    # finished: the teacher is not run again
    again = tool.soft_target_stage(cfg, work_dir)
    assert again['status'] == 'done earlier' and len(calls) == 1


@pytest.mark.parametrize('no_progress', [False, True])
def test_data_tools_show_progress_unless_asked(tool, tmp_path, monkeypatch,
                                               no_progress):
    commands = []
    monkeypatch.setattr(tool, 'run_tool', commands.append)
    args = tool.argparse.Namespace(
        data_root=str(tmp_path / 'md'),
        preset='small',
        seed=0,
        proposal_workers=2,
        no_progress=no_progress)
    results = tool.prepare_data(args)
    assert results['data']['status'] == 'generated'
    # the generator, then proposals of both splits
    assert [osp.basename(c[0]) for c in commands] == [
        'generate_multidigits.py', 'generate_proposals.py',
        'generate_proposals.py'
    ]
    assert all(('--no-progress' in c) == no_progress for c in commands)


@pytest.mark.parametrize('text', ['{bad', '[1, 2]', '\xff'])
def test_damaged_marker_counts_as_unfinished(tool, tmp_path, text,
                                             log_messages):
    ckpt = tmp_path / 'epoch_3.pth'
    ckpt.write_bytes(b'weights')
    (tmp_path / 'done.json').write_text(text, encoding='latin-1')
    with log_messages() as messages:
        assert tool.read_done(str(tmp_path)) is None
    message = ' '.join(messages)
    assert f'done-marker {tmp_path / "done.json"} is unreadable' in message
    assert ckpt.exists()  # nothing removed: training resumes from it
