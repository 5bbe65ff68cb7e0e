# Copyright (c) mmkdwsd authors. All rights reserved.
import os.path as osp
import xml.etree.ElementTree as ET
from typing import List, Tuple

from mmdet.datasets import VOCDataset
from mmengine.fileio import join_path, list_from_file

from mmkdwsd.registry import DATASETS
from .base_multilabel import BaseMultiLabelDataset, make_label


@DATASETS.register_module()
class VOCMultiLabelDataset(BaseMultiLabelDataset):
    """PASCAL VOC 2007 as a multi-label dataset with true boxes.

    .. code:: text

        data_root/                       # e.g. data/VOCdevkit/VOC2007/
        ├── ImageSets/Main/{trainval,test}.txt
        ├── Annotations/<id>.xml
        └── JPEGImages/<id>.jpg

    ``gt_label`` holds the classes with at least one non-difficult object;
    ``gt_label_ignore`` the classes present only as "difficult" (ignored in
    evaluation, as mmpretrain's ``VOC`` does). Every object is kept in
    ``instances`` with ``ignore_flag=1`` when difficult, and boxes follow
    mmdet's VOC convention (1-based pixel coordinates minus one). Class names
    are mmdet's VOC classes. An object of an unknown class is an error
    naming the xml file (mmdet silently drops it).

    Args:
        data_root (str): The VOC2007 folder.
        ann_file (str): Image-set file. Defaults to
            ``'ImageSets/Main/trainval.txt'``.
        data_prefix (dict): Image and xml folders. Defaults to
            ``dict(img='JPEGImages', ann='Annotations')``.
        **kwargs: See :class:`BaseMultiLabelDataset`.
    """

    METAINFO = dict(classes=VOCDataset.METAINFO['classes'])

    def __init__(self,
                 data_root: str,
                 ann_file: str = 'ImageSets/Main/trainval.txt',
                 data_prefix: dict = dict(img='JPEGImages', ann='Annotations'),
                 **kwargs) -> None:
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    def load_items(self) -> List[dict]:
        """Read the image set and parse each xml.

        Returns:
            list[dict]: One ``data_info`` per image.
        """
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'VOC image-set file not found: {self.ann_file}')
        img_ids = [
            line.split()[0] for line in list_from_file(self.ann_file)
            if line.strip()
        ]
        return [self._parse(img_id) for img_id in img_ids]

    def _parse(self, img_id: str) -> dict:
        """Build the ``data_info`` of one image from its xml."""
        xml_path = join_path(self.data_prefix['ann'], f'{img_id}.xml')
        img_path = join_path(self.data_prefix['img'], f'{img_id}.jpg')
        if not osp.isfile(xml_path):
            raise FileNotFoundError(
                f'VOC annotation not found: {xml_path} (image {img_id} is '
                f'listed in {self.ann_file}).')
        try:
            root = ET.parse(xml_path).getroot()
        except ET.ParseError as e:
            raise ValueError(f'VOC annotation {xml_path} is not valid xml: '
                             f'{e}') from e
        height, width = self._size(root, xml_path, img_path)
        instances = [
            self._parse_object(obj, xml_path) for obj in root.findall('object')
        ]
        positive = {i['bbox_label'] for i in instances if not i['ignore_flag']}
        difficult = {i['bbox_label'] for i in instances} - positive
        return dict(
            img_path=img_path,
            img_id=img_id,
            height=height,
            width=width,
            gt_label=make_label(positive),
            gt_label_ignore=make_label(difficult),
            instances=instances)

    @staticmethod
    def _size(root: ET.Element, xml_path: str,
              img_path: str) -> Tuple[int, int]:
        """(height, width) from the xml, else from the image header."""
        size = root.find('size')
        if size is not None and size.find('width') is not None:
            return int(size.find('height').text), int(size.find('width').text)
        from PIL import Image
        if not osp.isfile(img_path):
            raise FileNotFoundError(
                f'VOC image not found: {img_path} (and {xml_path} has no '
                '<size>).')
        with Image.open(img_path) as img:
            return img.size[1], img.size[0]

    def _parse_object(self, obj: ET.Element, xml_path: str) -> dict:
        """One ``instances`` entry; errors name the xml file."""
        classes = self._metainfo['classes']
        name = (obj.findtext('name') or '').strip()
        if name not in classes:
            raise ValueError(f'Unknown class {name!r} in VOC annotation '
                             f'{xml_path}; known classes: {list(classes)}.')
        box = obj.find('bndbox')
        try:
            bbox = [
                float(box.find(k).text) - 1
                for k in ('xmin', 'ymin', 'xmax', 'ymax')
            ]
        except (AttributeError, TypeError, ValueError) as e:
            raise ValueError(f'Malformed <bndbox> of a {name!r} object in '
                             f'{xml_path}.') from e
        difficult = obj.findtext('difficult')
        return dict(
            bbox=bbox,
            bbox_label=classes.index(name),
            ignore_flag=int(difficult is not None and int(difficult) == 1))
