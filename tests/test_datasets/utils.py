# Copyright (c) mmkdwsd authors. All rights reserved.
"""Writers of tiny datasets in their exact formats, for the tests."""
import json
import os
import os.path as osp

import cv2
import numpy as np


def write_image(path: str,
                height: int = 32,
                width: int = 40,
                seed: int = 0) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = np.random.default_rng(seed).integers(
        0, 255, (height, width, 3), dtype=np.uint8)
    assert cv2.imwrite(path, img)
    return path


def write_coco(root: str,
               images=None,
               annotations=None,
               categories=None,
               name: str = 'ann.json') -> str:
    """A COCO json with 3 images (the last without annotations)."""
    images = images if images is not None else [
        dict(id=1, file_name='a.png', height=32, width=40),
        dict(id=2, file_name='b.png', height=32, width=40),
        dict(id=3, file_name='c.png', height=32, width=40),
    ]
    annotations = annotations if annotations is not None else [
        dict(
            id=1,
            image_id=1,
            category_id=3,
            bbox=[1, 2, 10, 8],
            iscrowd=0,
            area=80),
        dict(
            id=2,
            image_id=1,
            category_id=1,
            bbox=[5, 5, 20, 20],
            iscrowd=1,
            area=400),
        dict(
            id=3,
            image_id=2,
            category_id=3,
            bbox=[0, 0, 4, 4],
            iscrowd=0,
            area=16),
    ]
    categories = categories if categories is not None else [
        dict(id=3, name='cat'),
        dict(id=1, name='person')
    ]
    os.makedirs(osp.join(root, 'img'), exist_ok=True)
    for i, img in enumerate(images):
        write_image(
            osp.join(root, 'img', img['file_name']),
            img['height'],
            img['width'],
            seed=i)
    path = osp.join(root, name)
    with open(path, 'w') as f:
        json.dump(
            dict(
                images=images, annotations=annotations, categories=categories),
            f)
    return path


def write_voc(root: str, objects: dict, split: str = 'trainval') -> str:
    """VOC2007 layout; ``objects``: image id -> [(name, difficult, box)]."""
    os.makedirs(osp.join(root, 'ImageSets', 'Main'), exist_ok=True)
    os.makedirs(osp.join(root, 'Annotations'), exist_ok=True)
    with open(osp.join(root, 'ImageSets', 'Main', f'{split}.txt'), 'w') as f:
        f.write(''.join(f'{i}\n' for i in objects))
    for i, objs in objects.items():
        write_image(osp.join(root, 'JPEGImages', f'{i}.jpg'), 50, 60)
        xml = [
            '<annotation><filename>%s.jpg</filename>' % i,
            '<size><width>60</width><height>50</height><depth>3</depth>'
            '</size>'
        ]
        for name, difficult, box in objs:
            xml.append(
                f'<object><name>{name}</name><pose>Left</pose>'
                f'<truncated>0</truncated><difficult>{difficult}</difficult>'
                '<bndbox>' + ''.join(
                    f'<{k}>{v}</{k}>'
                    for k, v in zip(('xmin', 'ymin', 'xmax', 'ymax'), box)) +
                '</bndbox></object>')
        xml.append('</annotation>')
        with open(osp.join(root, 'Annotations', f'{i}.xml'), 'w') as f:
            f.write('\n'.join(xml))
    return root


def write_nuswide(root: str, concepts, names, labels, split='Train') -> str:
    """NUS-WIDE release layout; ``labels``: (num_images, num_concepts)."""
    for sub in ('ConceptsList', 'ImageList', 'Groundtruth/TrainTestLabels'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    with open(osp.join(root, 'ConceptsList', 'Concepts81.txt'), 'w') as f:
        f.write(''.join(f'{c}\r\n' for c in concepts))
    with open(osp.join(root, 'ImageList', f'{split}Imagelist.txt'), 'w') as f:
        f.write(''.join(f'{n}\r\n' for n in names))
    for k, concept in enumerate(concepts):
        path = osp.join(root, 'Groundtruth', 'TrainTestLabels',
                        f'Labels_{concept}_{split}.txt')
        with open(path, 'w') as f:
            f.write(''.join(f'{int(v)} \n' for v in np.asarray(labels)[:, k]))
    for i, name in enumerate(names):
        write_image(osp.join(root, 'Flickr', *name.split('\\')), seed=i)
    return root
