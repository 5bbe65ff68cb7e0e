# Copyright (c) mmkdwsd authors. All rights reserved.
"""Pre-decoded datasets: every image decoded once into one uint8 array.

The per-image pipeline (PNG decode, flip, resize, pack into data samples)
delivered about 900 images/s on 8 workers where the small MultiDigits
students train at 13,000 (docs/benchmarks.md). This path moves the work:

- :class:`PreDecodedDataset` decodes the wrapped dataset's images once into
  a ``.npy`` file (uint8, (N, H, W, 3), BGR as ``LoadImageSafe`` gives
  them), memory-mapped by every worker, and fetches whole batches with one
  gather (``__getitems__``): a batch crosses from a worker to the main
  process as a handful of tensors, not a few per image;
- :class:`~mmkdwsd.models.PreDecodedDataPreprocessor` flips, resizes and
  packs the batch on the model's device.
"""
import glob
import hashlib
import json
import logging
import os
import os.path as osp
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmkdwsd.registry import DATASETS, FUNCTIONS
from mmkdwsd.utils.fileio import atomic_dump_json
from mmkdwsd.utils.progress import Progress
from .transforms.loading import LoadImageSafe

#: Key that marks a batch of :class:`PreDecodedDataset`.
BATCH_KEY = 'predecoded'


class PreDecodedCacheError(ValueError):
    """Raised when images cannot be stacked into one decoded array."""


def _fingerprint(paths: Sequence[str]) -> str:
    """Digest of the image list: paths, sizes and modification times.

    The paths are made absolute first: a data root given as ``data/x/`` or
    as ``/repo/data/x/`` names the same images (symbolic links are not
    resolved: a link retargeted is another image).
    """
    digest = hashlib.sha1()
    for path in map(osp.abspath, paths):
        try:
            stat = os.stat(path)
            digest.update(
                f'{path}|{stat.st_size}|{stat.st_mtime_ns}\n'.encode())
        except OSError:  # LoadImageSafe names the missing file later
            digest.update(f'{path}|missing\n'.encode())
    return digest.hexdigest()


@DATASETS.register_module()
class PreDecodedDataset:
    """Wrap a multi-label dataset whose images share one size; serve whole
    batches of decoded images, labels, proposals and soft targets.

    The wrapped dataset's ``pipeline`` is not used: augmentation (flip,
    resize, multi-scale) is the job of
    :class:`~mmkdwsd.models.PreDecodedDataPreprocessor`, which turns a batch
    into the inputs and data samples the usual pipelines would give.

    The decoded images are cached in ``cache_file`` (default
    ``<data_root>/predecoded/<annotation file stem>.npy``), written once
    with a progress bar and an atomic rename, and checked against a digest
    of the image paths, sizes and modification times in the sidecar
    ``.json``; a stale cache is rebuilt.

    With ``cache_scale`` the images are stored already resized to the
    training scale, in a file of their own (``..._<w>x<h>.npy``): a 64 px
    student on 256 px scenes reads and keeps in memory 1/16 of the bytes
    (120,000 scenes: 1.4 GiB instead of 22.5). They are resized as the
    preprocessor resizes (bilinear, ``align_corners=False``) and rounded to
    uint8, so a view at that scale sees the pixels it would have seen
    within 0.5 of a grey level (a smaller view is resized from the stored
    images, which bilinear resizing does not make the same as resizing the
    originals: set the scale of the views). Labels, proposals and
    ``ori_shape`` stay those of the original images; the preprocessor maps
    the proposals and refuses a view larger than the stored images.

    Args:
        dataset (dict | BaseDataset): The wrapped dataset (or its config).
        cache_file (str, optional): Where the decoded array lives, relative
            to the wrapped dataset's ``data_root`` unless absolute.
        num_max_proposals (int, optional): Keep the first (best) this many
            proposals per image, as ``mmdet.LoadProposals`` does. Defaults
            to None (all).
        cache_scale (int | tuple[int, int], optional): Store the images
            resized to this ``(w, h)`` (an int: square), the scale of every
            view that reads them. Defaults to None (the original size).

    A batch (what ``__getitems__`` returns, wrapped in a one-item list for
    the DataLoader's collate function :func:`predecoded_collate`) is a dict:

    - ``predecoded``: True (the marker the preprocessor looks for);
    - ``images``: uint8 (B, H, W, 3), BGR (H, W: ``cache_scale`` if set);
    - ``labels``: uint8 (B, K) multi-hot positive classes;
    - ``ignore``: uint8 (B, K) classes ignored in evaluation;
    - ``proposals``: float32 (B, P, 4) xyxy, padded with zeros, and
      ``num_proposals`` int64 (B,) (only with a ``proposal_file``);
    - ``soft_targets``: float32 (B, K) (only with a ``soft_target_file``;
      (B, 2, K) for a file with the flipped view, of which the preprocessor
      keeps the row of the view each image gets);
    - ``metainfo``: list of B dicts (``img_path``, ``img_id``,
      ``ori_shape``).
    """

    def __init__(self,
                 dataset: Any,
                 cache_file: Optional[str] = None,
                 num_max_proposals: Optional[int] = None,
                 cache_scale: Optional[Union[int, Tuple[int, int]]] = None
                 ) -> None:
        self.dataset = dataset if isinstance(
            dataset, BaseDataset) else DATASETS.build(dataset)
        self.dataset.full_init()
        self.cache_scale = _check_scale(cache_scale)
        self.cache_file = self._cache_path(cache_file)
        self.num_max_proposals = num_max_proposals
        infos = [self.dataset.get_data_info(i) for i in range(len(self))]
        self._metainfo = [
            dict(
                img_path=info['img_path'],
                img_id=info.get('img_id', i),
                ori_shape=(int(info['height']), int(info['width'])))
            for i, info in enumerate(infos)
        ]
        num_classes = len(self.metainfo['classes'])
        self._labels = self._multi_hot(infos, 'gt_label', num_classes)
        self._ignore = self._multi_hot(infos, 'gt_label_ignore', num_classes)
        self._proposals = self._counts = self._soft = None
        if infos and 'proposals' in infos[0]:
            self._proposals, self._counts = self._pad_proposals(infos)
        if infos and 'soft_target' in infos[0]:
            self._soft = np.stack([info['soft_target']
                                   for info in infos]).astype(np.float32)
        self._build_cache()
        self._images = None  # opened lazily, once per process

    # ------------------------------------------------------------ dataset
    @property
    def metainfo(self) -> dict:
        """The wrapped dataset's metainfo (``classes`` ...)."""
        return self.dataset.metainfo

    @property
    def ann_file(self) -> str:
        """The wrapped dataset's annotation file (for error messages)."""
        return getattr(self.dataset, 'ann_file', '')

    def __len__(self) -> int:
        return len(self.dataset)

    def get_data_info(self, idx: int) -> dict:
        """The wrapped dataset's ``data_info`` of item ``idx``."""
        return self.dataset.get_data_info(idx)

    @property
    def images(self) -> np.ndarray:
        """The decoded images, uint8 (N, H, W, 3), memory-mapped."""
        if self._images is None:
            self._images = np.load(self.cache_file, mmap_mode='r')
        return self._images

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        """A batch of one item (see the class docstring)."""
        return self.__getitems__([idx])[0]

    def __getitems__(self, indices: Sequence[int]) -> List[Dict[str, Any]]:
        """One batch of ``indices``, in a one-item list.

        Args:
            indices (Sequence[int]): Item indices of the batch.

        Returns:
            list[dict]: ``[batch]``, see the class docstring.
        """
        idx = np.asarray(indices, dtype=np.int64)
        if len(idx) and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f'PreDecodedDataset: index out of range '
                             f'[0, {len(self)}): {indices}')
        # a memory map gathers fastest in file order
        order = np.argsort(idx, kind='stable')
        images = np.empty((len(idx), ) + self.images.shape[1:], np.uint8)
        images[order] = self.images[idx[order]]
        batch = {
            BATCH_KEY: True,
            'images': torch.from_numpy(images),
            'labels': torch.from_numpy(self._labels[idx]),
            'ignore': torch.from_numpy(self._ignore[idx]),
            'metainfo': [self._metainfo[i] for i in idx],
        }
        if self._proposals is not None:
            batch['proposals'] = torch.from_numpy(self._proposals[idx])
            batch['num_proposals'] = torch.from_numpy(self._counts[idx])
        if self._soft is not None:
            batch['soft_targets'] = torch.from_numpy(self._soft[idx])
        return [batch]

    # -------------------------------------------------------------- setup
    def _cache_path(self, cache_file: Optional[str]) -> str:
        root = getattr(self.dataset, 'data_root', '') or ''
        if cache_file is None:
            stem = osp.splitext(osp.basename(self.ann_file))[0] or 'images'
            cache_file = osp.join('predecoded', f'{stem}.npy')
        if self.cache_scale is not None:  # never the full-size file
            stem, ext = osp.splitext(cache_file)
            w, h = self.cache_scale
            cache_file = f'{stem}_{w}x{h}{ext or ".npy"}'
        return cache_file if osp.isabs(cache_file) else osp.join(
            root, cache_file)

    @staticmethod
    def _multi_hot(infos: List[dict], key: str,
                   num_classes: int) -> np.ndarray:
        out = np.zeros((len(infos), num_classes), dtype=np.uint8)
        for i, info in enumerate(infos):
            labels = np.asarray(info.get(key, []), dtype=np.int64)
            out[i, labels] = 1
        return out

    def _pad_proposals(self, infos: List[dict]):
        limit = self.num_max_proposals
        counts = np.array(
            [len(info['proposals']['bboxes'][:limit]) for info in infos],
            dtype=np.int64)
        boxes = np.zeros((len(infos), max(int(counts.max()), 1), 4),
                         dtype=np.float32)
        for i, info in enumerate(infos):
            boxes[i, :counts[i]] = info['proposals']['bboxes'][:counts[i]]
        return boxes, counts

    def _build_cache(self) -> None:
        """Decode every image into ``cache_file`` unless it is up to date."""
        paths = [meta['img_path'] for meta in self._metainfo]
        key = _fingerprint(paths)
        sidecar = osp.splitext(self.cache_file)[0] + '.json'
        if osp.isfile(self.cache_file) and osp.isfile(sidecar):
            try:
                with open(sidecar) as f:
                    info = json.load(f)
                fingerprint = info.get('fingerprint')
                scale = info.get('cache_scale')
                num = np.load(self.cache_file, mmap_mode='r').shape[0]
            except (OSError, ValueError, AttributeError) as e:
                # a derived file: decoding again loses nothing
                reason = f'unreadable ({type(e).__name__}: {e})'
            else:
                wanted = None if self.cache_scale is None else list(
                    self.cache_scale)
                if fingerprint == key and num == len(paths) and \
                        scale == wanted:
                    return
                reason = f'stale (the images of {self.ann_file} changed)' \
                    if scale == wanted else \
                    f'stale (stored at scale {scale}, asked for {wanted})'
            print_log(
                f'PreDecodedDataset: {self.cache_file} is {reason}; '
                'decoding the images again.',
                logger='current',
                level=logging.WARNING)
        self._decode_all(paths, key, sidecar)

    def _decode_all(self, paths: List[str], key: str, sidecar: str) -> None:
        """Decode ``paths`` into ``cache_file`` (OpenCV decodes in threads,
        outside the GIL); nothing is left behind when an image is bad."""
        if not paths:
            raise PreDecodedCacheError(
                f'PreDecodedDataset: {self.ann_file} has no images.')
        load = LoadImageSafe()
        first = load(dict(img_path=paths[0]))['img']
        expected = self._metainfo[0]['ori_shape']
        if first.shape[:2] != expected:
            # proposals and boxes were checked against the annotated size
            raise PreDecodedCacheError(
                f'PreDecodedDataset: image {paths[0]} is {first.shape[:2]} '
                f'(height, width) but {self.ann_file} says {expected}')
        shape = first.shape if self.cache_scale is None else (
            self.cache_scale[1], self.cache_scale[0], first.shape[2])
        os.makedirs(osp.dirname(osp.abspath(self.cache_file)), exist_ok=True)
        _remove_dead_partials(self.cache_file)
        # one partial file per process: concurrent builders (one training
        # run per seed) do not write into each other's; the last rename wins
        partial = f'{_partial_prefix(self.cache_file)}{os.getpid()}.partial'
        array = np.lib.format.open_memmap(
            partial,
            mode='w+',
            dtype=np.uint8,
            shape=(len(paths), ) + shape)
        print_log(
            f'PreDecodedDataset: decoding {len(paths)} images of '
            f'{self.ann_file} into {self.cache_file} '
            f'({array.nbytes / 2**20:.0f} MiB)',
            logger='current')

        def decode(path: str) -> Tuple[tuple, np.ndarray]:
            img = load(dict(img_path=path))['img']
            return img.shape, (img if img.shape != first.shape else
                               resize_image(img, self.cache_scale))

        try:
            with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool, \
                    Progress(len(paths), 'PreDecodedDataset: decoding') \
                    as progress:
                images = pool.map(decode, paths)
                for i, (path, (decoded, img)) in enumerate(
                        zip(paths, images)):
                    if decoded != first.shape or \
                            self._metainfo[i]['ori_shape'] != expected:
                        raise PreDecodedCacheError(
                            f'PreDecodedDataset: image {path} has shape '
                            f'{decoded} (annotated '
                            f'{self._metainfo[i]["ori_shape"]} in '
                            f'{self.ann_file}), expected {first.shape} '
                            f'like {paths[0]}: all images must share one '
                            'size (use the per-image pipeline for datasets '
                            'of mixed sizes)')
                    array[i] = img
                    progress.update()
            array.flush()
        except BaseException:
            array = None  # close the map before removing its file
            os.remove(partial)
            raise
        del array
        os.replace(partial, self.cache_file)
        info = dict(fingerprint=key, num_images=len(paths))
        if self.cache_scale is not None:
            info['cache_scale'] = list(self.cache_scale)
        atomic_dump_json(info, sidecar)


def _check_scale(scale) -> Optional[Tuple[int, int]]:
    """``cache_scale`` as ``(w, h)``, or a ValueError naming it."""
    if scale is None:
        return None
    pair = (scale, scale) if isinstance(scale, int) else tuple(scale)
    if len(pair) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0
            for s in pair):
        raise ValueError('PreDecodedDataset: cache_scale must be a positive '
                         f'int or a (w, h) pair of them, got {scale!r}')
    return pair


def resize_image(img: np.ndarray,
                 scale: Optional[Tuple[int, int]]) -> np.ndarray:
    """Resize a uint8 (H, W, C) image to ``scale`` (w, h) as
    :class:`~mmkdwsd.models.PreDecodedDataPreprocessor` resizes a batch
    (bilinear, ``align_corners=False``), rounded to uint8."""
    if scale is None or (img.shape[1], img.shape[0]) == tuple(scale):
        return img
    x = torch.tensor(img).permute(2, 0, 1)  # a copy: img may be read-only
    x = F.interpolate(x[None].float(), size=(scale[1], scale[0]),
                      mode='bilinear', align_corners=False)[0]
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(1, 2,
                                                             0).numpy()


def _partial_prefix(cache_file: str) -> str:
    """Start of this host's partial files (``<prefix><pid>.partial``), into
    which a builder process decodes before renaming."""
    return f'{cache_file}.{socket.gethostname()}.'


def _remove_dead_partials(cache_file: str) -> None:
    """Remove the partial files of builders that died on this host.

    A builder killed outright (SIGKILL, a machine's session ending) cannot
    remove its partial file, and a large set's is tens of GB. Only files of
    this host whose process is gone are removed: a live builder's, or one on
    another host sharing the data root, is left alone.
    """
    prefix = _partial_prefix(cache_file)
    for path in sorted(glob.glob(glob.escape(prefix) + '*.partial')):
        pid = path[len(prefix):-len('.partial')]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            size = os.path.getsize(path)
            os.remove(path)
        except FileNotFoundError:  # another builder removed it first
            continue
        print_log(
            f'PreDecodedDataset: removed {path} ({size / 2**20:.0f} MiB), '
            f'left by process {pid} that ended before finishing it',
            logger='current',
            level=logging.WARNING)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


@FUNCTIONS.register_module()
def predecoded_collate(data_batch: Sequence) -> Dict[str, Any]:
    """Collate of :class:`PreDecodedDataset`: its ``__getitems__`` already
    built the batch; items fetched one by one are concatenated.

    Args:
        data_batch (Sequence[dict]): One batch, or one-item batches.

    Returns:
        dict: The batch (see :class:`PreDecodedDataset`).
    """
    if len(data_batch) == 1:
        return data_batch[0]
    first = data_batch[0]
    if not (isinstance(first, dict) and first.get(BATCH_KEY)):
        raise TypeError('predecoded_collate collates batches of '
                        'PreDecodedDataset; got items of type '
                        f'{type(first).__name__}')
    out = {BATCH_KEY: True}
    for key in first:
        if key == BATCH_KEY:
            continue
        values = [item[key] for item in data_batch]
        if key == 'metainfo':
            out[key] = [m for value in values for m in value]
        elif key == 'proposals':  # pad to the longest
            width = max(v.shape[1] for v in values)
            out[key] = torch.cat([
                torch.nn.functional.pad(v, (0, 0, 0, width - v.shape[1]))
                for v in values
            ])
        else:
            out[key] = torch.cat(values)
    return out
