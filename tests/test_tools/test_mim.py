# Copyright (c) mmkdwsd authors. All rights reserved.
"""`mim train mmkdwsd CONFIG` and `mim test mmkdwsd CONFIG --checkpoint`
against the regular (non-editable) install made by tools/setup_env.sh, for
the three kinds of model the package trains: the mmpretrain student, the
WSDDN teacher (mmdet) and the KD-WSD distiller (which loads the teacher
checkpoint written by the teacher's `mim train`)."""
import glob
import importlib.metadata
import json
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, List, NamedTuple, Tuple

import pytest

from tests.conftest import data_overrides

STUDENT_CFG = 'configs/mlc/resnet18-tiny_1xb8-12e_multidigits-32px.py'
TEACHER_CFG = 'configs/wsddn/wsddn_resnet18-tiny_1xb8-6e_multidigits.py'
DISTILLER_CFG = ('configs/kdwsd/kdwsd_wsddn-resnet18-tiny_resnet18-tiny_'
                 '1xb8-12e_multidigits-32px.py')
MIM = osp.join(osp.dirname(sys.executable), 'mim')

# Metric keys WSODMetric reports for the teacher: CorLoc, detection mAP and
# the image-level metrics of its image scores.
TEACHER_METRICS = ('CorLoc', 'CorLoc_cls_mean', 'det_mAP', 'mAP', 'CF1', 'OF1')


class Case(NamedTuple):
    cfg: str
    val_metrics: Tuple[str, ...]  # logged by the validation during training
    test_metrics: Tuple[str, ...]  # printed by `mim test`


CASES: Dict[str, Case] = {
    'student':
    Case(STUDENT_CFG, ('mAP', ), ('mAP', )),
    'teacher':
    Case(TEACHER_CFG, TEACHER_METRICS, TEACHER_METRICS),
    # val runs both models (prefixed metrics); test runs the student alone
    'distiller':
    Case(DISTILLER_CFG,
         ('student/mAP', 'student/CF1', 'teacher/mAP', 'teacher/CF1'),
         ('student/mAP', 'student/CF1')),
}


class TrainRun(NamedTuple):
    work_dir: str
    checkpoint: str
    stdout: str


def _installed_as_regular_package() -> bool:
    dist = importlib.metadata.distribution('mmkdwsd')
    direct = dist.read_text('direct_url.json') or ''
    return '"editable": true' not in direct


def _mim(command: str, cfg: str, args: List[str], cfg_options: List[str],
         cwd: str) -> subprocess.CompletedProcess:
    """Run `mim COMMAND mmkdwsd CFG ARGS --cfg-options ...` outside the
    checkout and fail with the end of its output unless it exits 0."""
    proc = subprocess.run(
        [MIM, command, 'mmkdwsd', cfg, *args, '--cfg-options', *cfg_options],
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=''),
        capture_output=True,
        text=True)
    assert proc.returncode == 0, (
        f'mim {command} {cfg} exited {proc.returncode}:\n' +
        proc.stdout[-3000:] + proc.stderr[-3000:])
    return proc


def _val_metrics(work_dir: str) -> dict:
    """The last validation row LocalVisBackend wrote during training."""
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(logs) == 1, logs
    with open(logs[0]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    val = [r for r in rows if 'loss' not in r and 'lr' not in r]
    assert val, f'no validation row in {logs[0]}'
    return val[-1]


def _printed_metrics(stdout: str) -> List[str]:
    """Keys of the metrics dict tools/test.py prints last."""
    dicts = [ln for ln in stdout.splitlines() if ln.startswith('{')]
    assert dicts, 'mim test printed no metrics dict:\n' + stdout[-3000:]
    return re.findall(r"'([^']+)':", dicts[-1])


@pytest.fixture(scope='module')
def mim_train(tmp_path_factory, tiny_multidigits, repo_root):
    """`mim train` (1 epoch on the tiny set) of a model kind, once per
    module: the distiller trains on the checkpoint of the teacher's run."""
    runs: Dict[str, TrainRun] = {}

    def train(kind: str) -> TrainRun:
        if kind in runs:
            return runs[kind]
        # the distiller's teacher_cfg stays relative ('configs/wsddn/...'):
        # run from elsewhere, it is found among the package's .mim configs
        opts = data_overrides(tiny_multidigits)
        if kind == 'distiller':
            opts.append(f'model.teacher_ckpt={train("teacher").checkpoint}')
        tmp = tmp_path_factory.mktemp(f'mim_{kind}')
        work_dir = str(tmp / 'work')
        proc = _mim('train', osp.join(repo_root, CASES[kind].cfg),
                    ['--work-dir', work_dir], opts, str(tmp))
        runs[kind] = TrainRun(work_dir, osp.join(work_dir, 'epoch_1.pth'),
                              proc.stdout)
        return runs[kind]

    return train


@pytest.mark.skipif(
    not osp.isfile(MIM), reason='openmim is installed by tools/setup_env.sh')
@pytest.mark.parametrize('kind', list(CASES))
def test_mim_train_then_test(kind, mim_train, tmp_path, tiny_multidigits,
                             repo_root):
    assert _installed_as_regular_package(), (
        'mim needs a regular install of mmkdwsd (tools/setup_env.sh)')
    case = CASES[kind]
    # mim runs the tools shipped in the installed package
    pkg_root = str(
        importlib.metadata.distribution('mmkdwsd').locate_file('mmkdwsd'))

    if osp.samefile(pkg_root, osp.join(repo_root, 'mmkdwsd')):
        # the checkout's package: its .mim folders are links to the
        # checkout's tools/ and configs/, never a stale copy
        for name in ('tools', 'configs'):
            assert osp.samefile(
                osp.join(pkg_root, '.mim', name), osp.join(repo_root, name))
    run = mim_train(kind)
    assert osp.join(pkg_root, '.mim', 'tools', 'train.py') in run.stdout
    assert osp.isfile(run.checkpoint)
    val = _val_metrics(run.work_dir)
    missing = [k for k in case.val_metrics if k not in val]
    assert not missing, f'validation did not log {missing}: {val}'
    if kind == 'distiller':
        teacher = mim_train('teacher')
        assert (f'loading the teacher checkpoint "{teacher.checkpoint}"'
                in run.stdout)
        # the frozen teacher inside the distiller is the trained one: on the
        # same val images and view it scores what the teacher's own run did
        assert val['teacher/mAP'] == pytest.approx(
            _val_metrics(teacher.work_dir)['mAP'], abs=1e-3)

    test = _mim(
        'test', osp.join(repo_root, case.cfg),
        ['--checkpoint', run.checkpoint, '--work-dir',
         str(tmp_path / 'test')],
        data_overrides(tiny_multidigits),
        str(tmp_path))
    assert osp.join(pkg_root, '.mim', 'tools', 'test.py') in test.stdout
    assert 'Testing finished successfully' in test.stdout
    printed = _printed_metrics(test.stdout)
    missing = [k for k in case.test_metrics if k not in printed]
    assert not missing, f'mim test did not print {missing}: {printed}'
