# Copyright (c) mmkdwsd authors. All rights reserved.
"""tools/analysis_tools/graft_checkpoint.py: which keys come from which
checkpoint, the written file, and bad input."""
import os.path as osp

import pytest
import torch

from tests.test_tools import load_script

TOOL = osp.join('tools', 'analysis_tools', 'graft_checkpoint.py')
PARTS = ['student.backbone.conv1', 'student.backbone.layer1']


def _state(value):
    keys = ('student.backbone.conv1.weight', 'student.backbone.layer1.0.w',
            'student.backbone.layer10.w', 'student.backbone.layer2.w',
            'student.head.fc.weight', 'projector.weight')
    return {k: torch.full((2, 3), float(value)) for k in keys}


def _save(path, state, **extra):
    torch.save(dict(state_dict=state, **extra), path)
    return str(path)


def test_graft_takes_only_the_parts(repo_root):
    tool = load_script(osp.join(repo_root, TOOL))
    out = tool.graft(_state(1), _state(2), PARTS)
    assert list(out) == list(_state(1))  # the base's keys, in its order
    taken = {k for k, v in out.items() if v.eq(2).all()}
    # a part is a module name: layer1 does not take layer10's keys
    assert taken == {'student.backbone.conv1.weight',
                     'student.backbone.layer1.0.w'}
    assert all(v.eq(1).all() for k, v in out.items() if k not in taken)


def test_graft_refuses(repo_root):
    tool = load_script(osp.join(repo_root, TOOL))
    with pytest.raises(ValueError, match=r'--parts student\.neck match no '
                       r'key of a\.pth \(its modules include '
                       r'projector, student\.backbone\.conv1'):
        tool.graft(_state(1), _state(2), PARTS + ['student.neck'], 'a.pth')
    donor = _state(2)
    del donor['student.backbone.layer1.0.w']
    donor['student.backbone.layer1.1.w'] = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"a\.pth and b\.pth differ in the "
                       r"keys under --parts: only in a\.pth: \['student\."
                       r"backbone\.layer1\.0\.w'\], only in b\.pth: \["
                       r"'student\.backbone\.layer1\.1\.w'\]"):
        tool.graft(_state(1), donor, PARTS, 'a.pth', 'b.pth')
    donor = _state(2)
    donor['student.backbone.conv1.weight'] = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r'b\.pth has other shapes: student'
                       r'\.backbone\.conv1\.weight \(4, 3\) \(in a\.pth: '
                       r'\(2, 3\)\)'):
        tool.graft(_state(1), donor, PARTS, 'a.pth', 'b.pth')


def test_main_writes_the_graft(repo_root, tmp_path, capsys):
    tool = load_script(osp.join(repo_root, TOOL))
    base = _save(tmp_path / 'base.pth', _state(1), meta=dict(seed=21),
                 optimizer=dict(state={}))
    donor = _save(tmp_path / 'donor.pth', _state(2), meta=dict(seed=22))
    out = str(tmp_path / 'sub' / 'graft.pth')
    tool.main([base, donor, '--parts', *PARTS, '--out', out])
    assert f'{out}: 2 of 6 tensors from {donor}' in capsys.readouterr().out
    ckpt = torch.load(out, map_location='cpu')
    assert set(ckpt) == {'meta', 'state_dict'}  # no optimizer state
    assert ckpt['meta'] == dict(seed=21)
    expected = tool.graft(_state(1), _state(2), PARTS)
    assert all(torch.equal(ckpt['state_dict'][k], v)
               for k, v in expected.items())
    with pytest.raises(FileNotFoundError, match=r'no checkpoint .*none\.pth'):
        tool.main([base, str(tmp_path / 'none.pth'), '--parts', *PARTS,
                   '--out', out])
    torch.save(_state(3), tmp_path / 'bare.pth')
    with pytest.raises(ValueError, match=r'bare\.pth holds no state_dict of '
                       r'tensors: expected a tools/train\.py checkpoint'):
        tool.main([base, str(tmp_path / 'bare.pth'), '--parts', *PARTS,
                   '--out', out])
    # a refused graft leaves the earlier output as it was
    assert torch.equal(torch.load(out)['state_dict']['projector.weight'],
                       _state(1)['projector.weight'])
