# Copyright (c) mmkdwsd authors. All rights reserved.
import os
import os.path as osp
import pickle
import re
import runpy
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from mmkdwsd.datasets.multidigits import generate_multidigits
from mmkdwsd.datasets.proposal_methods import selective_search, sliding_windows
from mmkdwsd.registry import DATASETS


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('md'))
    generate_multidigits(out, seed=0, progress=False, num_train=24, num_val=2)
    return out


def _args(data, out, *extra):
    return [
        '--ann-file',
        osp.join(data, 'annotations', 'instances_train.json'), '--img-dir',
        osp.join(data, 'train'), '--out', out, '--no-progress', *extra
    ]


def _cmd(repo_root, data, out, *extra):
    return [
        sys.executable,
        osp.join(repo_root, 'tools', 'generate_proposals.py'),
        *_args(data, out, *extra)
    ]


def _tool(repo_root, monkeypatch, capsys, argv):
    """Run the tool in this process; returns (stdout, exit message)."""
    monkeypatch.setattr(sys, 'argv', ['generate_proposals.py', *argv])
    message = None
    try:
        runpy.run_path(
            osp.join(repo_root, 'tools', 'generate_proposals.py'),
            run_name='__main__')
    except SystemExit as e:
        message = str(e.code)
    return capsys.readouterr().out, message


def _run(cmd, repo_root):
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def _load(path):
    with open(path, 'rb') as f:
        return pickle.load(f)


def test_windows_interrupted_then_resumed(data, repo_root, tmp_path,
                                          monkeypatch, capsys):
    out = str(tmp_path / 'win.pkl')
    args = ('--method', 'windows', '--topk', '50', '--shard-size', '5')

    def tool(*extra):
        return _tool(repo_root, monkeypatch, capsys,
                     _args(data, out, *args, *extra))

    log, _ = tool('--limit-shards', '2')
    assert 'Stopped with 14 images left' in log
    assert not osp.exists(out)
    assert sorted(os.listdir(out + '.parts')) == [
        'settings.json', 'shard_000000.pkl', 'shard_000001.pkl'
    ]
    _, message = _tool(
        repo_root, monkeypatch, capsys,
        _args(data, out, '--method', 'windows', '--topk', '7', '--shard-size',
              '5'))
    assert 'holds work from other settings' in message
    # a damaged settings file is named; the finished shards stay
    settings = out + '.parts/settings.json'
    with open(settings) as f:
        good = f.read()
    with open(settings, 'w') as f:
        f.write(good[:10])
    _, message = tool()
    assert message.startswith(f'{settings} is unreadable')
    assert osp.exists(out + '.parts/shard_000001.pkl')
    with open(settings, 'w') as f:
        f.write(good)
    log, _ = tool('--workers', '2')
    assert 'Resuming: 10 of 24 images already done' in log
    assert re.search(r'14 images in [\d.]+s \([\d.]+ images/s, 2 workers', log)
    assert not osp.exists(out + '.parts')
    props = _load(out)
    assert len(props) == 24 and list(props)[0] == 'train/train_000000.png'
    for key, item in props.items():
        img = cv2.imread(osp.join(data, key))
        bboxes, scores = sliding_windows(img, topk=50)
        np.testing.assert_array_equal(item['bboxes'], bboxes)
        np.testing.assert_array_equal(item['scores'], scores)
    assert 'nothing to do' in tool()[0]
    # the dataset reads the file: keys and bounds match
    ds = DATASETS.build(
        dict(
            type='CocoMultiLabelDataset',
            data_root=data,
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img='train/'),
            proposal_file=out))
    props = ds.get_data_info(3)['proposals']
    assert props['bboxes'].shape == (50, 4)
    assert props['bboxes'].dtype == np.float32
    assert (np.diff(props['scores']) <= 0).all()


def test_progress_in_a_log(data, repo_root, tmp_path):
    """Output to a pipe (a log, the pipeline's subprocess): plain progress
    lines with the time left, no carriage-return bar."""
    out = str(tmp_path / 'win.pkl')
    cmd = [
        arg for arg in _cmd(repo_root, data, out, '--method', 'windows',
                            '--topk', '20', '--shard-size', '4')
        if arg != '--no-progress'
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [
        line for line in res.stderr.splitlines()
        if line.startswith('proposals (windows): ')
    ]
    assert len(lines) >= 3, res.stderr
    assert 'left' in lines[0]
    assert re.match(r'proposals \(windows\): 24/24 img \(100%\), done in',
                    lines[-1])
    assert '\r' not in res.stderr
    assert len(_load(out)) == 24


def test_edgeboxes_without_model(data, repo_root, tmp_path, monkeypatch,
                                 capsys):
    _, message = _tool(
        repo_root, monkeypatch, capsys,
        _args(data, str(tmp_path / 'e.pkl'), '--method', 'edgeboxes'))
    assert 'no pip package ships it' in message
    assert 'Pass --edge-model PATH' in message


def test_missing_inputs_are_named(data, repo_root, tmp_path, monkeypatch,
                                  capsys):
    out = str(tmp_path / 'p.pkl')
    missing = str(tmp_path / 'missing.json')
    _, message = _tool(repo_root, monkeypatch, capsys, [
        '--ann-file', missing, '--img-dir',
        osp.join(data, 'train'), '--out', out
    ])
    assert message == f'--ann-file {missing}: no such file.'
    _, message = _tool(repo_root, monkeypatch, capsys,
                       ['--img-dir', str(tmp_path / 'nowhere'), '--out', out])
    assert message == f'--img-dir {tmp_path / "nowhere"}: no such folder.'
    os.makedirs(tmp_path / 'empty')
    _, message = _tool(repo_root, monkeypatch, capsys,
                       ['--img-dir', str(tmp_path / 'empty'), '--out', out])
    assert message.startswith('No images to process')
    assert not osp.exists(out)


@pytest.mark.slow
def test_selective_search_killed_and_restarted(data, repo_root, tmp_path):
    pytest.importorskip('cv2.ximgproc')
    out = str(tmp_path / 'ss.pkl')
    cmd = _cmd(repo_root, data, out, '--method', 'ss', '--shard-size', '2')
    proc = subprocess.Popen(
        cmd,
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True)
    first_shard = osp.join(out + '.parts', 'shard_000000.pkl')
    deadline = time.time() + 120
    while not osp.exists(first_shard) and proc.poll() is None \
            and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not osp.exists(out), 'finished before it could be killed'
    done = [n for n in os.listdir(out + '.parts') if n.startswith('shard')]
    assert 1 <= len(done) < 12
    log = _run(cmd, repo_root)
    assert f'Resuming: {2 * len(done)} of 24 images already done' in log
    assert 'images/s' in log
    props = _load(out)
    assert len(props) == 24
    first = props['train/train_000000.png']
    assert first['bboxes'].shape[1] == 4 and 0 < len(first['bboxes']) <= 500
    assert first['scores'][0] == 1.0 and (np.diff(first['scores']) < 0).all()


def test_methods_on_an_image():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    boxes, scores = sliding_windows(img, topk=30)
    assert boxes.shape == (30, 4) and scores.shape == (30, )
    assert (boxes[:, 2] <= 80).all() and (boxes[:, 3] <= 60).all()
    assert (scores > 0).all() and (scores <= 1).all()
    assert (np.diff(scores) <= 0).all()
    flat = np.zeros((20, 20, 3), np.uint8)
    boxes, scores = sliding_windows(flat, topk=5, min_size=100)
    np.testing.assert_array_equal(boxes, [[0, 0, 20, 20]])  # fallback
    if hasattr(__import__('cv2'), 'ximgproc'):
        boxes, scores = selective_search(img, topk=10)
        assert len(boxes) <= 10 and scores[0] == 1.0
        assert scores[-1] > 0.5
