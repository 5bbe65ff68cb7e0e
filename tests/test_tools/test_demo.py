# Copyright (c) mmkdwsd authors. All rights reserved.
"""tools/demo.py: student labels, teacher boxes drawn per predicted class."""
import os.path as osp

import numpy as np
import pytest
import torch

from tests.test_tools import load_script

STUDENT_CONFIG = osp.join('tests', 'data', 'configs', 'tiny_student_mlc.py')
TEACHER_CONFIG = osp.join('configs', 'wsddn',
                          'wsddn_resnet18-tiny_1xb8-6e_multidigits.py')
CLASSES = ['red', 'green', 'blue', 'none']


def load_tool(repo_root: str):
    return load_script(osp.join(repo_root, 'tools', 'demo.py'),
                       'mmkdwsd_demo_tool')


@pytest.fixture(scope='module', autouse=True)
def _restore_default_scope():
    """mmpretrain's inferencer switches the default scope to mmpretrain;
    give the following tests mmkdwsd's scope back."""
    yield
    import uuid

    from mmengine.registry import DefaultScope
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'mmkdwsd':
        DefaultScope.get_instance(
            f'mmkdwsd-{uuid.uuid4().hex}', scope_name='mmkdwsd')


@pytest.fixture(scope='module')
def models(tmp_path_factory, repo_root):
    """Random tiny student and WSDDN teacher checkpoints, and an image."""
    import mmcv
    from mmdet.apis import init_detector
    from mmengine.config import Config
    from mmpretrain.apis import get_model
    root = tmp_path_factory.mktemp('demo')
    torch.manual_seed(0)
    meta = dict(dataset_meta=dict(classes=CLASSES))

    student = get_model(Config.fromfile(osp.join(repo_root, STUDENT_CONFIG)))
    student.init_weights()
    student_ckpt = str(root / 'student.pth')
    torch.save(dict(state_dict=student.state_dict(), meta=meta), student_ckpt)

    teacher_cfg = str(root / 'teacher.py')
    with open(teacher_cfg, 'w') as f:
        f.write(f"_base_ = ['{osp.join(repo_root, TEACHER_CONFIG)}']\n"
                'model = dict(roi_head=dict(bbox_head=dict('
                'num_classes=4)))\n')
    teacher = init_detector(teacher_cfg, None, device='cpu')
    teacher_ckpt = str(root / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict(), meta=meta), teacher_ckpt)

    img = str(root / 'img.png')
    rng = np.random.default_rng(0)
    mmcv.imwrite(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), img)
    return dict(
        student=(STUDENT_CONFIG, student_ckpt),
        teacher=(teacher_cfg, teacher_ckpt),
        img=img,
        root=root)


def test_demo_student_only(models, repo_root, capsys, monkeypatch):
    monkeypatch.chdir(repo_root)
    demo = load_tool(repo_root)
    cfg, ckpt = models['student']
    assert demo.main([
        models['img'], '--student-config', cfg, '--student-ckpt', ckpt,
        '--thr', '0.0'
    ]) == 0
    out = capsys.readouterr().out
    assert 'student: 4 classes with score >= 0.0' in out
    for name in CLASSES:
        assert f'  {name}: 0.' in out


def test_demo_with_teacher(models, repo_root, capsys, monkeypatch):
    monkeypatch.chdir(repo_root)
    demo = load_tool(repo_root)
    cfg, ckpt = models['student']
    tcfg, tckpt = models['teacher']
    out_file = str(models['root'] / 'vis' / 'demo.png')
    assert demo.main([
        models['img'], '--student-config', cfg, '--student-ckpt', ckpt,
        '--teacher-config', tcfg, '--teacher-ckpt', tckpt, '--out-file',
        out_file, '--thr', '0.0', '--proposal-method', 'windows',
        '--num-proposals', '50', '--min-side', '96'
    ]) == 0
    out = capsys.readouterr().out
    assert 'teacher: 4 boxes drawn' in out, out
    assert 'teacher image score of red' in out
    import mmcv
    picture = mmcv.imread(out_file)
    assert min(picture.shape[:2]) == 96  # enlarged for legibility


def test_demo_argument_errors(repo_root):
    demo = load_tool(repo_root)
    with pytest.raises(SystemExit):
        demo.parse_args([
            'img.png', '--student-config', 'c', '--student-ckpt', 'k',
            '--teacher-config', 't'
        ])
    with pytest.raises(SystemExit):
        demo.parse_args([
            'img.png', '--student-config', 'c', '--student-ckpt', 'k',
            '--teacher-config', 't', '--teacher-ckpt', 'tk'
        ])
