# Copyright (c) mmkdwsd authors. All rights reserved.
import os.path as osp
from typing import List, Optional, Tuple

import numpy as np
from mmengine.fileio import join_path
from mmengine.logging import print_log

from mmkdwsd.registry import DATASETS
from .base_multilabel import BaseMultiLabelDataset, make_label


def _read_lines(path: str, what: str) -> List[str]:
    """Non-empty stripped lines of a text file; clear error if missing."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'NUS-WIDE {what} not found: {path}')
    with open(path, encoding='utf-8', errors='replace') as f:
        return [line.strip() for line in f if line.strip()]


@DATASETS.register_module()
class NUSWideDataset(BaseMultiLabelDataset):
    """NUS-WIDE (81 concepts) in its standard release layout.

    .. code:: text

        data_root/
        ├── ConceptsList/Concepts81.txt        # 81 concept names, one a line
        ├── ImageList/TrainImagelist.txt       # actor\\0001_2124494179.jpg
        ├── ImageList/TestImagelist.txt
        ├── Groundtruth/TrainTestLabels/Labels_<concept>_Train.txt  # one 0/1
        ├── Groundtruth/TrainTestLabels/Labels_<concept>_Test.txt   # a line
        └── Flickr/<folder>/<image>.jpg

    Line ``i`` of every label file belongs to line ``i`` of the image list.
    Windows separators in the image list are converted. NUS-WIDE has no box
    annotations (``instances`` is empty) and no image sizes, so sizes are
    read from the image headers at start-up (a few seconds per 10k images).
    Many NUS-WIDE images are no longer downloadable: ``skip_missing=True``
    drops images whose file is missing (counted in the log); by default a
    missing image is an error naming the file.

    Args:
        data_root (str): Dataset root.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        ann_file (str, optional): Image list; defaults to
            ``ImageList/{Train,Test}Imagelist.txt``.
        label_dir (str): Folder of the per-concept label files.
            Defaults to ``'Groundtruth/TrainTestLabels'``.
        concepts_file (str): Concept list.
            Defaults to ``'ConceptsList/Concepts81.txt'``.
        data_prefix (dict): Image folder. Defaults to ``dict(img='Flickr')``.
        skip_missing (bool): Drop images whose file is missing.
            Defaults to False.
        **kwargs: See :class:`BaseMultiLabelDataset`.
    """

    SPLITS = {'train': 'Train', 'test': 'Test'}

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 ann_file: Optional[str] = None,
                 label_dir: str = 'Groundtruth/TrainTestLabels',
                 concepts_file: str = 'ConceptsList/Concepts81.txt',
                 data_prefix: dict = dict(img='Flickr'),
                 skip_missing: bool = False,
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'split must be one of {list(self.SPLITS)}, '
                             f'got {split!r}.')
        self.split = split
        self.label_dir = join_path(data_root, label_dir)
        self.concepts_file = join_path(data_root, concepts_file)
        self.skip_missing = skip_missing
        if ann_file is None:
            ann_file = f'ImageList/{self.SPLITS[split]}Imagelist.txt'
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    def _read_label_matrix(self, concepts: List[str],
                           num_images: int) -> np.ndarray:
        """Read the per-concept files into a (num_images, 81) 0/1 matrix."""
        matrix = np.zeros((num_images, len(concepts)), dtype=bool)
        suffix = self.SPLITS[self.split]
        for k, concept in enumerate(concepts):
            path = osp.join(self.label_dir, f'Labels_{concept}_{suffix}.txt')
            lines = _read_lines(path, 'label file')
            if len(lines) != num_images:
                raise ValueError(
                    f'NUS-WIDE label file {path} has {len(lines)} lines but '
                    f'the image list {self.ann_file} has {num_images} images.')
            for row, value in enumerate(lines):
                if value not in ('0', '1'):
                    raise ValueError(
                        f'NUS-WIDE label file {path}, line {row + 1}: expected'
                        f' a single 0 or 1, found {value!r}.')
            matrix[:, k] = np.array(lines) == '1'
        return matrix

    def _image_size(self, img_path: str) -> Optional[Tuple[int, int]]:
        """(height, width) from the image header; None if missing."""
        from PIL import Image
        if not osp.isfile(img_path):
            if self.skip_missing:
                return None
            raise FileNotFoundError(
                f'NUS-WIDE image not found: {img_path} (listed in '
                f'{self.ann_file}). Set skip_missing=True to drop missing '
                'images.')
        try:
            with Image.open(img_path) as img:
                width, height = img.size
        except Exception as e:
            raise OSError(f'Cannot read image {img_path}: {e}') from e
        return height, width

    def load_items(self) -> List[dict]:
        """Read concepts, image list and label files.

        Returns:
            list[dict]: One ``data_info`` per (present) image.
        """
        concepts = _read_lines(self.concepts_file, 'concept list')
        self._metainfo['classes'] = tuple(concepts)
        names = [
            line.replace('\\', '/')
            for line in _read_lines(self.ann_file, 'image list')
        ]
        labels = self._read_label_matrix(concepts, len(names))
        data_list, missing = [], 0
        for row, name in enumerate(names):
            img_path = join_path(self.data_prefix['img'], name)
            size = self._image_size(img_path)
            if size is None:
                missing += 1
                continue
            data_list.append(
                dict(
                    img_path=img_path,
                    img_id=name,
                    height=size[0],
                    width=size[1],
                    gt_label=make_label(np.nonzero(labels[row])[0]),
                    gt_label_ignore=np.zeros(0, dtype=np.int64),
                    instances=[]))
        if missing:
            print_log(
                f'NUSWideDataset: skipped {missing} of {len(names)} images '
                f'whose file is missing (skip_missing=True).',
                logger='current')
        return data_list
