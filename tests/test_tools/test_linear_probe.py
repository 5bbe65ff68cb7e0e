# Copyright (c) mmkdwsd authors. All rights reserved.
"""tools/analysis_tools/linear_probe.py: the probe's fit, checkpoint
loading (a distiller's ``student.`` keys), bad input, and the whole tool on
tiny real scenes."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tests.test_tools import load_script

TOOL = osp.join('tools', 'analysis_tools', 'linear_probe.py')
CONFIG = osp.join('configs', 'benchmarks',
                  'resnet18-tiny_1xb64-30e_multidigits-large-64px.py')


def load_tool(repo_root: str):
    return load_script(osp.join(repo_root, TOOL))


def _student(repo_root):
    from mmkdwsd.registry import MODELS
    return MODELS.build(Config.fromfile(osp.join(repo_root, CONFIG)).model)


def test_probe_fit(repo_root):
    tool = load_tool(repo_root)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    y = x[:, :3] > 0.3  # class k: feature k above 0.3, linear in x
    result = tool.probe(x[:200], y[:200], x[200:], y[200:], [1e-4, 1.0])
    assert result['dim'] == 6
    assert set(result['held_out_mAP']) == {'0.0001', '1.0'}
    assert result['weight_decay'] == 1e-4  # the strong L2 ranks worse
    assert result['mAP'] > 99 and result['train_mAP'] > 99
    # labels the features do not carry: near the positives' share (~50%)
    noise = rng.random((300, 3)) < 0.5
    result = tool.probe(x[:200], noise[:200], x[200:], noise[200:], [1e-2])
    assert result['mAP'] < 75


def test_named_checkpoints(repo_root, tmp_path):
    tool = load_tool(repo_root)
    ckpt = tmp_path / 'a.pth'
    ckpt.write_bytes(b'')
    assert tool.named_checkpoints(['init', f'a={ckpt}', str(ckpt)]) == [
        ('init', 'init'), ('a', str(ckpt)), (str(ckpt), str(ckpt))]
    with pytest.raises(FileNotFoundError, match=r"checkpoint '.*b\.pth' "
                       r"\(from 'x=.*b\.pth'\): no such file"):
        tool.named_checkpoints([f'x={tmp_path}/b.pth'])
    with pytest.raises(ValueError, match='names repeat'):
        tool.named_checkpoints([f'a={ckpt}', 'a=init'])


def test_load_student(repo_root, tmp_path):
    tool = load_tool(repo_root)
    torch.manual_seed(1)
    trained = _student(repo_root)
    trained.init_weights()
    # a distiller's checkpoint: the student under 'student.', a teacher
    state = {f'student.{k}': v for k, v in trained.state_dict().items()}
    state['teacher.backbone.conv1.weight'] = torch.zeros(3)
    path = str(tmp_path / 'distiller.pth')
    torch.save(dict(state_dict=state), path)
    torch.manual_seed(2)
    model = _student(repo_root)
    model.init_weights()
    key = 'backbone.layer1.0.conv1.weight'
    assert not torch.equal(model.state_dict()[key], trained.state_dict()[key])
    tool.load_student(model, path, ['backbone.layer1'])
    for k, v in trained.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    # another network's weights are named, not loaded half
    del state['student.backbone.layer1.0.conv1.weight']
    state['student.backbone.layer2.0.conv1.weight'] = torch.zeros(1, 1, 3, 3)
    torch.save(dict(state_dict=state), path)
    with pytest.raises(ValueError, match=r"distiller\.pth' does not fit.*"
                       r"missing \['backbone\.layer1\.0\.conv1\.weight'\].*"
                       r"backbone\.layer2\.0\.conv1\.weight \(1, 1, 3, 3\) "
                       r"\(network: \(32, 16, 3, 3\)\)"):
        tool.load_student(model, path, ['backbone.layer1'])
    with pytest.raises(ValueError, match="--layers 'backbone.layer9'.*"
                       "'backbone.layer1'"):
        tool.check_layers(model, ['backbone.layer9'])


def test_linear_probe_tiny(repo_root, tiny_multidigits, tmp_path):
    tool = load_tool(repo_root)
    torch.manual_seed(1)
    trained = _student(repo_root)
    trained.init_weights()
    path = str(tmp_path / 'student.pth')
    torch.save(dict(state_dict=trained.state_dict()), path)
    common = [osp.join(repo_root, CONFIG), '--data-root', tiny_multidigits,
              '--workers', '0', '--batch-size', '5']
    out = str(tmp_path / 'probe' / 'result.json')
    report = tool.main(common + [
        'init', f'trained={path}', '--layers', 'backbone.layer1',
        'backbone.layer2', '--grid', '2', '--pool', 'max', '--out', out
    ])
    assert json.load(open(out)) == json.loads(json.dumps(report))
    results = report['results']
    assert list(results) == ['init', 'trained']
    for name in results:
        assert results[name]['backbone.layer1']['dim'] == 16 * 4
        assert results[name]['backbone.layer2']['dim'] == 32 * 4
        for layer in ('backbone.layer1', 'backbone.layer2'):
            assert 0 <= results[name][layer]['mAP'] <= 100
    # the training maps of 'trained' are those of the saved network
    loaders = tool.build_loaders(
        Config.fromfile(osp.join(repo_root, CONFIG)),
        tool.parse_args(common + ['init']))
    trained.eval()
    feats, labels = tool.extract(trained, loaders['train'],
                                 ['backbone.layer1'], 2, 'max', 'test')
    assert feats['backbone.layer1'].shape == (16, 64)
    assert labels.shape == (16, 10) and labels.any(1).all()
    val_feats, val_labels = tool.extract(trained, loaders['val'],
                                         ['backbone.layer1'], 2, 'max', 'val')
    expected = tool.probe(feats['backbone.layer1'], labels,
                          val_feats['backbone.layer1'], val_labels,
                          [1e-4, 1e-3, 1e-2, 1e-1])
    assert expected == results['trained']['backbone.layer1']
    wsddn = osp.join(repo_root, 'configs', 'benchmarks',
                     'wsddn_resnet18-tiny_1xb16-20e_multidigits-large.py')
    with pytest.raises(ValueError, match='expected the student network'):
        tool.main([wsddn, 'init', '--data-root', tiny_multidigits])
