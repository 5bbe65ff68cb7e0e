# Copyright (c) mmkdwsd authors. All rights reserved.
"""`stack_collate`: equally sized images become one tensor per branch,
anything else stays as `pseudo_collate` leaves it, and the data
preprocessors give the same batch either way; the MultiDigits configs use
it."""
import copy

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from mmengine.runner import Runner

from mmkdwsd.datasets import stack_collate
from mmkdwsd.registry import MODELS
from ..test_models.test_distillers.toy_models import (KD_PREPROCESSOR,
                                                      toy_kd_batch)

KD_CFG = ('configs/kdwsd/kdwsd_wsddn-resnet18-tiny_resnet18-tiny_'
          '1xb8-12e_multidigits-32px.py')


def _items(batch):
    """The per-item form of a collated toy batch."""
    n = len(batch['data_samples']['student'])
    return [
        dict(
            inputs={k: v[i] for k, v in batch['inputs'].items()},
            data_samples={k: v[i]
                          for k, v in batch['data_samples'].items()})
        for i in range(n)
    ]


def test_stacks_each_branch_and_matches_pseudo_collate():
    items = _items(toy_kd_batch(num_images=3))
    stacked = stack_collate(copy.deepcopy(items))
    listed = pseudo_collate(copy.deepcopy(items))
    assert stacked['inputs']['teacher'].shape == (3, 3, 32, 32)
    assert stacked['inputs']['student'].shape == (3, 3, 16, 16)
    assert isinstance(stacked['data_samples']['teacher'], list)
    processor = MODELS.build(KD_PREPROCESSOR)
    out_s = processor(stacked, training=True)
    out_l = processor(listed, training=True)
    for branch in ('teacher', 'student'):
        torch.testing.assert_close(out_s['inputs'][branch],
                                   out_l['inputs'][branch])
    assert (out_s['data_samples']['teacher'][0].batch_input_shape ==
            out_l['data_samples']['teacher'][0].batch_input_shape)


def test_different_sizes_stay_a_list():
    images = [torch.zeros(3, 8, 8), torch.zeros(3, 8, 10)]
    out = stack_collate([dict(inputs=x, data_samples=None) for x in images])
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 2
    same = stack_collate(
        [dict(inputs=torch.zeros(3, 8, 8), data_samples=None)] * 2)
    assert same['inputs'].shape == (2, 3, 8, 8)


def test_multidigits_loader_stacks(repo_root, tiny_multidigits):
    cfg = Config.fromfile(f'{repo_root}/{KD_CFG}')
    assert FUNCTIONS.get(cfg.train_dataloader.collate_fn.type) is \
        stack_collate
    loader = copy.deepcopy(cfg.train_dataloader)
    loader.dataset.data_root = tiny_multidigits + '/'
    loader.num_workers, loader.persistent_workers = 0, False
    batch = next(iter(Runner.build_dataloader(loader, seed=0)))
    assert batch['inputs']['teacher'].shape == (8, 3, 64, 64)
    assert batch['inputs']['student'].shape == (8, 3, 32, 32)
    assert len(batch['data_samples']['teacher']) == 8
