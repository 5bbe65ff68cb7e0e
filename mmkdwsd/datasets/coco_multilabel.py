# Copyright (c) mmkdwsd authors. All rights reserved.
import contextlib
import io
import json
import os.path as osp
from typing import Dict, List

import numpy as np
from mmengine.fileio import join_path

from mmkdwsd.registry import DATASETS
from .base_multilabel import BaseMultiLabelDataset, make_label


@DATASETS.register_module()
class CocoMultiLabelDataset(BaseMultiLabelDataset):
    """Multi-label dataset from a COCO ``instances`` json (read through
    pycocotools).

    Works for MS-COCO 2014 (80 classes), the built-in MultiDigits and any
    COCO-format json. An image's labels are the categories of all its
    annotations, crowd ones included (``iscrowd`` boxes get
    ``ignore_flag=1`` in ``instances``). Images without annotations are kept
    with an empty label set unless ``filter_empty=True``.

    Classes: by default all json categories sorted by id (COCO's 80, mapped
    to contiguous indices 0..79). Pass ``metainfo=dict(classes=(...))`` to
    use a subset or another order; annotations of other categories are then
    dropped.

    Args:
        ann_file (str): The json, relative to ``data_root`` unless absolute.
        data_prefix (dict): ``dict(img=folder)`` of the images.
            Defaults to ``dict(img='')``.
        **kwargs: See :class:`BaseMultiLabelDataset`.
    """

    def __init__(self,
                 ann_file: str,
                 data_prefix: dict = dict(img=''),
                 **kwargs) -> None:
        super().__init__(ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def _read_json(self) -> dict:
        """Read and sanity-check the json, naming the file on errors."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'Annotation file not found: {self.ann_file}')
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f'Annotation file {self.ann_file} is not valid '
                             f'json: {e}') from e
        if not isinstance(data, dict):
            raise ValueError(f'Annotation file {self.ann_file} must hold a '
                             'COCO dict, found a '
                             f'{type(data).__name__}.')
        for key in ('images', 'categories'):
            if not isinstance(data.get(key), list):
                raise ValueError(f'Annotation file {self.ann_file} has no '
                                 f'{key!r} list (not a COCO instances json).')
        data.setdefault('annotations', [])
        return data

    def _build_coco(self, data: dict):
        """Index the json with pycocotools (quietly)."""
        from pycocotools.coco import COCO
        coco = COCO()
        coco.dataset = data
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                coco.createIndex()
            except KeyError as e:
                raise ValueError(f'Annotation file {self.ann_file}: an entry '
                                 f'lacks the key {e}.') from e
        return coco

    def _class_map(self, coco) -> Dict[int, int]:
        """Map category ids to contiguous class indices; set ``classes``."""
        cats = sorted(coco.loadCats(coco.getCatIds()), key=lambda c: c['id'])
        name_to_id = {c['name']: c['id'] for c in cats}
        names = self._metainfo.get('classes')
        if names is None:
            names = [c['name'] for c in cats]
        missing = [n for n in names if n not in name_to_id]
        if missing:
            raise ValueError(f'Classes {missing} are not categories of '
                             f'{self.ann_file}.')
        self._metainfo['classes'] = tuple(names)
        return {name_to_id[n]: i for i, n in enumerate(names)}

    def load_items(self) -> List[dict]:
        """Parse the json into ``data_info`` dicts.

        Returns:
            list[dict]: One ``data_info`` per image, in json order.
        """
        coco = self._build_coco(self._read_json())
        cat2label = self._class_map(coco)
        known = set(coco.getCatIds())
        orphans = set(coco.imgToAnns) - set(coco.imgs)
        if orphans:
            raise ValueError(
                f'Annotation file {self.ann_file}: annotations refer to '
                f'image ids missing from its images, e.g. {min(orphans)}.')
        data_list = []
        for img_id in coco.getImgIds():
            img = coco.imgs[img_id]
            anns = coco.imgToAnns.get(img_id, [])
            data_list.append(self._parse(img, anns, cat2label, known))
        return data_list

    def _parse(self, img: dict, anns: List[dict], cat2label: Dict[int, int],
               known: set) -> dict:
        """Build the ``data_info`` of one image."""
        img_path = join_path(self.data_prefix['img'], img['file_name'])
        instances, labels = [], []
        for ann in anns:
            if ann['category_id'] not in known:
                raise ValueError(
                    f'Annotation {ann.get("id")} of image {img_path} '
                    f'(id={img["id"]}) in {self.ann_file} has unknown '
                    f'category_id {ann["category_id"]}.')
            label = cat2label.get(ann['category_id'])
            if label is None:
                continue
            labels.append(label)
            x, y, w, h = ann['bbox']
            if w < 1 or h < 1:
                continue
            instances.append(
                dict(
                    bbox=[x, y, x + w, y + h],
                    bbox_label=label,
                    ignore_flag=int(ann.get('iscrowd', 0))))
        return dict(
            img_path=img_path,
            img_id=img['id'],
            height=int(img['height']),
            width=int(img['width']),
            gt_label=make_label(labels),
            gt_label_ignore=np.zeros(0, dtype=np.int64),
            instances=instances)
