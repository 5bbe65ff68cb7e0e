# Copyright (c) mmkdwsd authors. All rights reserved.
"""PreDecodedDataset: the decoded cache (built once, reused, rebuilt when
the images change, refused for mixed sizes) and whole-batch fetching, in
the main process and through DataLoader workers."""
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mmkdwsd.datasets import (PreDecodedCacheError, PreDecodedDataset,
                              predecoded_collate)
from mmkdwsd.datasets.predecoded import resize_image
from mmkdwsd.datasets.transforms import LoadImageSafe
from mmkdwsd.datasets.transforms.loading import ImageReadError
from .utils import write_coco, write_image


def _inner(root, **kwargs):
    return dict(
        type='CocoMultiLabelDataset',
        data_root=root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=[],
        **kwargs)


@pytest.fixture
def tiny_copy(tiny_multidigits, tmp_path):
    """A private copy of the tiny MultiDigits set (tests change images)."""
    root = str(tmp_path / 'md')
    shutil.copytree(
        tiny_multidigits, root, ignore=shutil.ignore_patterns('predecoded'))
    return root + '/'


def test_cache_matches_decoder_and_is_reused(tiny_copy, capsys):
    ds = PreDecodedDataset(_inner(tiny_copy))
    # the decoding's progress (plain lines: the captured stream is no tty)
    assert 'PreDecodedDataset: decoding: 16/16 img (100%), done in' in \
        capsys.readouterr().err
    assert ds.cache_file == osp.join(tiny_copy,
                                     'predecoded/instances_train.npy')
    assert len(ds) == 16 and ds.images.shape == (16, 128, 128, 3)
    load = LoadImageSafe()
    for i in (0, 7, 15):
        img = load(dict(img_path=ds.get_data_info(i)['img_path']))['img']
        np.testing.assert_array_equal(ds.images[i], img)
    stamp = os.stat(ds.cache_file).st_mtime_ns
    again = PreDecodedDataset(_inner(tiny_copy))  # not decoded again
    assert os.stat(again.cache_file).st_mtime_ns == stamp


def test_relative_and_absolute_data_roots_share_the_cache(
        tiny_copy, monkeypatch):
    ds = PreDecodedDataset(_inner(tiny_copy))
    stamp = os.stat(ds.cache_file).st_mtime_ns
    parent, name = osp.split(tiny_copy.rstrip('/'))
    monkeypatch.chdir(parent)
    again = PreDecodedDataset(_inner(name + '/'))
    assert again.cache_file == osp.join(name, 'predecoded',
                                        'instances_train.npy')
    assert os.stat(again.cache_file).st_mtime_ns == stamp


def test_changed_image_rebuilds_the_cache(tiny_copy):
    ds = PreDecodedDataset(_inner(tiny_copy))
    stamp = os.stat(ds.cache_file).st_mtime_ns
    path = ds.get_data_info(3)['img_path']
    write_image(path, height=128, width=128, seed=5)
    again = PreDecodedDataset(_inner(tiny_copy))
    assert os.stat(again.cache_file).st_mtime_ns != stamp
    img = LoadImageSafe()(dict(img_path=path))['img']
    np.testing.assert_array_equal(again.images[3], img)


@pytest.mark.parametrize('broken', ['cache', 'sidecar'])
def test_unreadable_cache_is_decoded_again(tiny_copy, broken):
    ds = PreDecodedDataset(_inner(tiny_copy))
    path = ds.cache_file if broken == 'cache' else \
        ds.cache_file[:-len('.npy')] + '.json'
    with open(path, 'wb') as f:  # e.g. a disk that filled up
        f.write(b'\x93NUMPY truncated' if broken == 'cache' else b'{')
    again = PreDecodedDataset(_inner(tiny_copy))
    img = LoadImageSafe()(dict(img_path=ds.get_data_info(5)['img_path']))
    np.testing.assert_array_equal(again.images[5], img['img'])


def test_killed_builders_partial_files_are_removed(tiny_copy, log_messages):
    """A builder killed outright leaves its partial file; the next build
    removes it, but not a live builder's nor another host's."""
    folder = osp.join(tiny_copy, 'predecoded')
    os.makedirs(folder)
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    live = subprocess.Popen([sys.executable, '-c', 'import time; '
                             'time.sleep(60)'])
    stem = osp.join(folder, 'instances_train.npy')
    host = socket.gethostname()
    files = {
        name: f'{stem}.{name}.partial'
        for name in (f'{host}.{dead.pid}', f'{host}.{live.pid}',
                     f'elsewhere.{dead.pid}')
    }
    try:
        for path in files.values():
            with open(path, 'wb') as f:
                f.write(bytes(2**20))
        with log_messages() as messages:
            ds = PreDecodedDataset(_inner(tiny_copy))
    finally:
        live.kill()
        live.wait()
    assert ds.images.shape == (16, 128, 128, 3)
    assert not osp.exists(files[f'{host}.{dead.pid}'])
    assert osp.exists(files[f'{host}.{live.pid}'])
    assert osp.exists(files[f'elsewhere.{dead.pid}'])
    assert f'removed {files[f"{host}.{dead.pid}"]} (1 MiB), left by ' \
        f'process {dead.pid}' in '\n'.join(messages)
    assert sorted(os.listdir(folder)) == sorted(
        ['instances_train.npy', 'instances_train.json'] +
        [osp.basename(files[k]) for k in (f'{host}.{live.pid}',
                                          f'elsewhere.{dead.pid}')])


def test_mixed_sizes_and_bad_images_are_named(tmp_path):
    root = str(tmp_path)
    write_coco(root)  # writes a.png, b.png, c.png of 32 x 40
    write_image(osp.join(root, 'img', 'c.png'), height=24, width=40)
    inner = dict(
        type='CocoMultiLabelDataset',
        data_root=root,
        ann_file='ann.json',
        data_prefix=dict(img='img/'),
        pipeline=[])
    with pytest.raises(PreDecodedCacheError, match=r'c\.png has shape'):
        PreDecodedDataset(inner)
    # an image whose size is not the annotated one
    write_image(osp.join(root, 'img', 'c.png'), height=32, width=40)
    write_image(osp.join(root, 'img', 'a.png'), height=40, width=32)
    with pytest.raises(PreDecodedCacheError, match=r'a\.png is \(40, 32\)'):
        PreDecodedDataset(inner)
    write_image(osp.join(root, 'img', 'a.png'), height=32, width=40)
    # nothing half-written is left behind
    assert os.listdir(osp.join(root, 'predecoded')) == []
    with open(osp.join(root, 'img', 'c.png'), 'wb') as f:
        f.write(b'not a png')
    with pytest.raises(ImageReadError, match=r'c\.png'):
        PreDecodedDataset(inner)
    assert os.listdir(osp.join(root, 'predecoded')) == []


def test_batches(tiny_multidigits):
    ds = PreDecodedDataset(
        _inner(tiny_multidigits, proposal_file='proposals/ss_train.pkl'),
        num_max_proposals=30)
    batch = ds.__getitems__([5, 2, 9])[0]
    assert batch['predecoded'] is True
    assert batch['images'].dtype == torch.uint8
    assert batch['images'].shape == (3, 128, 128, 3)
    for row, idx in enumerate((5, 2, 9)):
        info = ds.get_data_info(idx)
        np.testing.assert_array_equal(batch['images'][row].numpy(),
                                      ds.images[idx])
        assert batch['labels'][row].nonzero().flatten().tolist() == \
            info['gt_label'].tolist()
        assert batch['metainfo'][row]['img_path'] == info['img_path']
        count = int(batch['num_proposals'][row])
        assert count == min(30, len(info['proposals']['bboxes']))
        np.testing.assert_array_equal(batch['proposals'][row, :count].numpy(),
                                      info['proposals']['bboxes'][:count])
    assert batch['proposals'].shape == (3, 30, 4)
    # items fetched one by one collate into the same batch
    items = predecoded_collate([ds[5], ds[2], ds[9]])
    for key in ('images', 'labels', 'ignore', 'proposals', 'num_proposals'):
        torch.testing.assert_close(items[key], batch[key])
    assert items['metainfo'] == batch['metainfo']
    with pytest.raises(IndexError, match='out of range'):
        ds.__getitems__([16])


def test_dataloader_workers_fetch_whole_batches(tiny_multidigits):
    ds = PreDecodedDataset(_inner(tiny_multidigits))
    loader = DataLoader(
        ds, batch_size=4, num_workers=2, collate_fn=predecoded_collate)
    batches = list(loader)
    assert [len(b['images']) for b in batches] == [4, 4, 4, 4]
    assert torch.equal(batches[1]['images'],
                       ds.__getitems__([4, 5, 6, 7])[0]['images'])


def test_soft_targets_ride_along(tiny_multidigits):
    from ..test_configs import _random_soft_targets
    path = _random_soft_targets(tiny_multidigits, 'train')
    ds = PreDecodedDataset(_inner(tiny_multidigits, soft_target_file=path))
    batch = ds.__getitems__([0, 1])[0]
    np.testing.assert_allclose(batch['soft_targets'][1].numpy(),
                               ds.get_data_info(1)['soft_target'])
    assert 'proposals' not in batch


def test_cache_scale_stores_resized_images_in_a_file_of_their_own(tiny_copy):
    full = PreDecodedDataset(_inner(tiny_copy))
    stamp = os.stat(full.cache_file).st_mtime_ns
    ds = PreDecodedDataset(_inner(tiny_copy), cache_scale=(48, 32))
    assert ds.cache_file == osp.join(tiny_copy,
                                     'predecoded/instances_train_48x32.npy')
    assert ds.images.shape == (16, 32, 48, 3)
    # the full-size cache is neither read nor rewritten
    assert os.stat(full.cache_file).st_mtime_ns == stamp
    for i in (0, 9):
        # the preprocessor's resize (bilinear, align_corners=False), rounded
        x = torch.tensor(full.images[i]).permute(2, 0, 1)[None].float()
        ref = torch.nn.functional.interpolate(
            x, size=(32, 48), mode='bilinear', align_corners=False)[0]
        got = torch.tensor(ds.images[i]).permute(2, 0, 1).float()
        assert (got - ref).abs().max() <= 0.5
        np.testing.assert_array_equal(
            ds.images[i], resize_image(full.images[i], (48, 32)))
    # labels and original sizes are the originals'
    batch = ds.__getitems__([2])[0]
    assert batch['metainfo'][0]['ori_shape'] == (128, 128)
    assert batch['labels'][0].nonzero().flatten().tolist() == \
        ds.get_data_info(2)['gt_label'].tolist()
    # reused; an int is a square scale
    stamp = os.stat(ds.cache_file).st_mtime_ns
    again = PreDecodedDataset(_inner(tiny_copy), cache_scale=[48, 32])
    assert os.stat(again.cache_file).st_mtime_ns == stamp
    assert PreDecodedDataset(
        _inner(tiny_copy), cache_scale=16).images.shape == (16, 16, 16, 3)


def test_cache_of_another_scale_is_decoded_again(tiny_copy, log_messages):
    ds = PreDecodedDataset(
        _inner(tiny_copy), cache_file='predecoded/x.npy', cache_scale=32)
    assert ds.cache_file.endswith('x_32x32.npy')
    # the same file asked for at the original size: its sidecar says 32x32
    with log_messages() as messages:
        full = PreDecodedDataset(
            _inner(tiny_copy), cache_file='predecoded/x_32x32.npy')
    assert full.images.shape == (16, 128, 128, 3)
    assert any('stored at scale [32, 32], asked for None' in m
               for m in messages)


@pytest.mark.parametrize('scale', [0, (64, ), (64, 32.5), True, 'big'])
def test_bad_cache_scale_is_named(tiny_multidigits, scale):
    with pytest.raises(ValueError, match='cache_scale must be'):
        PreDecodedDataset(_inner(tiny_multidigits), cache_scale=scale)
