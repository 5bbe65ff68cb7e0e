# Copyright (c) mmkdwsd authors. All rights reserved.
"""mmdeploy export of the student to ONNX and the ONNX/PyTorch parity."""
import os
import os.path as osp
import subprocess

import numpy as np
import pytest
import torch

pytest.importorskip('mmdeploy')
pytest.importorskip('onnxruntime')

CONFIG = osp.join('tests', 'data', 'configs', 'tiny_student_mlc.py')
CLASSES = ['red', 'green', 'blue', 'none']


@pytest.fixture(scope='module', autouse=True)
def _restore_default_scope():
    """mmdeploy's task processor switches the default scope to mmpretrain;
    give the following tests mmkdwsd's scope back."""
    yield
    import uuid

    from mmengine.registry import DefaultScope
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'mmkdwsd':
        DefaultScope.get_instance(
            f'mmkdwsd-{uuid.uuid4().hex}', scope_name='mmkdwsd')


@pytest.fixture(scope='module')
def student(tmp_path_factory, repo_root):
    """A random tiny student checkpoint (with class names) and an image."""
    import mmcv
    from mmengine.config import Config
    from mmpretrain.apis import get_model
    root = tmp_path_factory.mktemp('student')
    torch.manual_seed(0)
    model = get_model(Config.fromfile(osp.join(repo_root, CONFIG)))
    model.init_weights()
    ckpt = str(root / 'student.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=dict(classes=CLASSES))), ckpt)
    img = str(root / 'img.png')
    rng = np.random.default_rng(0)
    mmcv.imwrite(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8), img)
    return ckpt, img


@pytest.fixture(scope='module')
def exported(student, tmp_path_factory, repo_root):
    from mmkdwsd.deploy import build_models, export_onnx, prepare_model_cfg
    ckpt, img = student
    work_dir = str(tmp_path_factory.mktemp('onnx'))
    cfg = prepare_model_cfg(osp.join(repo_root, CONFIG))
    onnx_file = export_onnx(cfg, ckpt, img, work_dir)
    task, torch_model, backend_model = build_models(cfg, ckpt, onnx_file)
    return dict(
        cfg=cfg,
        ckpt=ckpt,
        img=img,
        onnx=onnx_file,
        task=task,
        torch_model=torch_model,
        backend_model=backend_model)


def test_prepare_model_cfg(repo_root):
    from mmengine.config import Config

    from mmkdwsd.deploy import prepare_model_cfg
    cfg = prepare_model_cfg(osp.join(repo_root, CONFIG))
    # mmdeploy's backend model reads the top-level key
    assert cfg.data_preprocessor == cfg.model.data_preprocessor
    assert cfg.default_scope == 'mmpretrain'
    with pytest.raises(KeyError, match='test_pipeline'):
        prepare_model_cfg(Config(dict(model=dict(type='ImageClassifier'))))


def test_onnx_parity_dynamic_batch(exported):
    from mmkdwsd.deploy import (check_onnx_parity, make_batch,
                                onnx_ends_with_sigmoid)
    assert onnx_ends_with_sigmoid(exported['onnx'], 'output')
    # traced with one image, run with three: the batch axis is dynamic
    inputs = make_batch(exported['task'], exported['img'],
                        exported['torch_model'], 3)
    assert inputs.shape == (3, 3, 32, 32)
    max_diff = check_onnx_parity(exported['torch_model'],
                                 exported['backend_model'], inputs,
                                 exported['onnx'])
    assert max_diff < 1e-4
    # like with like: the ONNX output is a probability, not a logit
    out = exported['backend_model'].wrapper({'input': inputs})['output']
    logits = exported['torch_model'](inputs, mode='tensor')
    torch.testing.assert_close(out, logits.sigmoid(), atol=1e-4, rtol=0)


def test_onnx_parity_failure_is_clear(exported):
    from mmkdwsd.deploy import OnnxParityError, check_onnx_parity, make_batch
    inputs = make_batch(exported['task'], exported['img'],
                        exported['torch_model'], 2)
    with pytest.raises(OnnxParityError, match='above the tolerance'):
        check_onnx_parity(
            exported['torch_model'],
            exported['backend_model'],
            inputs,
            exported['onnx'],
            atol=-1.0)


def test_softmax_head_refused():
    from mmpretrain.models import ImageClassifier

    from mmkdwsd.deploy import check_multilabel_head
    model = ImageClassifier(
        backbone=dict(
            type='ResNet', depth=18, base_channels=8, stem_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=64))
    with pytest.raises(TypeError, match='MultiLabelClsHead'):
        check_multilabel_head(model)


def test_onnx_inference(exported):
    from mmkdwsd.deploy import (format_prediction, load_class_names,
                                onnx_inference)
    sample = onnx_inference(exported['cfg'], exported['onnx'],
                            exported['img'])[0]
    scores = sample.pred_score
    assert scores.shape == (len(CLASSES), )
    assert ((scores >= 0) & (scores <= 1)).all()
    classes = load_class_names(exported['cfg'], exported['ckpt'])
    assert classes == CLASSES
    preds = format_prediction(sample, classes, thr=0.0)
    assert [s for _, s in preds] == sorted(scores.tolist(), reverse=True)


@pytest.mark.slow
def test_deploy_tool(student, tmp_path, repo_root, python_exe):
    ckpt, img = student
    cmd = [
        python_exe, 'tools/deploy.py', CONFIG, ckpt, '--work-dir',
        str(tmp_path), '--img', img
    ]
    proc = subprocess.run(
        cmd,
        cwd=repo_root,
        env=dict(os.environ, PYTHONPATH=repo_root),
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'ONNX parity: max abs difference' in proc.stdout
    assert 'ONNX Runtime prediction' in proc.stdout
    assert osp.isfile(tmp_path / 'end2end.onnx')


def test_gem_student_exports(student, tmp_path, repo_root):
    """The MultiDigits student pools with mmpretrain's GeM, whose
    avg_pool2d kernel is traced from the input size: without mmkdwsd's
    rewriter the ONNX export fails; with it the graph is a ReduceMean and
    matches PyTorch."""
    import onnx
    from mmengine.config import Config
    from mmpretrain.apis import get_model

    from mmkdwsd.deploy import (build_models, check_onnx_parity, export_onnx,
                                make_batch, prepare_model_cfg)
    _, img = student
    cfg = Config.fromfile(osp.join(repo_root, CONFIG))
    cfg.model.neck = dict(type='GeneralizedMeanPooling', p=3.0)
    torch.manual_seed(0)
    model = get_model(cfg)
    model.init_weights()
    ckpt = str(tmp_path / 'gem.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    cfg = prepare_model_cfg(cfg)
    onnx_file = export_onnx(cfg, ckpt, img, str(tmp_path))
    ops = {node.op_type for node in onnx.load(onnx_file).graph.node}
    assert 'ReduceMean' in ops and 'AveragePool' not in ops
    task, torch_model, backend_model = build_models(cfg, ckpt, onnx_file)
    inputs = make_batch(task, img, torch_model, 2)
    assert check_onnx_parity(torch_model, backend_model, inputs,
                             onnx_file) < 1e-4
