# Copyright (c) mmkdwsd authors. All rights reserved.
"""Draw a trained WSDDN teacher's top boxes on a few test images.

For every class the teacher predicts in an image (image score >=
``--score-thr``), its top-scoring box after NMS is drawn (right panel) next to
the true boxes (left panel, if the test pipeline loads them). Panels are
tiled into one picture. Example::

    python tools/visualize_teacher.py \
        configs/wsddn/wsddn_resnet18-tiny_1xb8-6e_multidigits.py \
        work_dirs/teacher/epoch_12.pth --out docs/teacher_multidigits.png
"""
import argparse
import os.path as osp

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmengine.structures import InstanceData


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw a WSDDN teacher\'s top boxes on test images.')
    parser.add_argument('config', help='teacher config')
    parser.add_argument('checkpoint', help='teacher checkpoint')
    parser.add_argument('--out', required=True, help='output image (.png)')
    parser.add_argument('--num-images', type=int, default=8)
    parser.add_argument('--cols', type=int, default=4)
    parser.add_argument('--start', type=int, default=0, help='first index')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.5,
        help='image score above which a class is drawn')
    parser.add_argument(
        '--upscale', type=float, default=3.0, help='drawing scale')
    return parser.parse_args()


def top_box_per_class(sample, score_thr: float, scale: float) -> InstanceData:
    """The top box of each class whose image score is >= score_thr."""
    pred = sample.pred_instances
    keep = []
    for cls in torch.nonzero(sample.pred_score >= score_thr).flatten():
        inds = torch.nonzero(pred.labels == cls).flatten()
        if len(inds):
            keep.append(inds[pred.scores[inds].argmax()])
    pred = pred[torch.stack(keep)] if keep else pred[:0]
    pred.bboxes = pred.bboxes * scale
    # Show the image score of the class: it is what the teacher predicts.
    pred.scores = sample.pred_score[pred.labels]
    return pred


def main() -> None:
    args = parse_args()
    from mmkdwsd.registry import DATASETS, MODELS, VISUALIZERS
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmkdwsd'))

    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    visualizer = VISUALIZERS.build(
        dict(type='mmdet.DetLocalVisualizer', name='teacher_vis'))
    visualizer.dataset_meta = dataset.metainfo

    panels = []
    for idx in range(args.start, args.start + args.num_images):
        data = dataset[idx]
        with torch.no_grad():
            sample = model.test_step(pseudo_collate([data]))[0]
        image = mmcv.imread(sample.img_path, channel_order='rgb')
        image = mmcv.imrescale(image, args.upscale)
        sample.pred_instances = top_box_per_class(sample, args.score_thr,
                                                  args.upscale)
        if 'gt_instances' in sample:
            sample.gt_instances.bboxes = sample.gt_instances.bboxes * \
                args.upscale
        visualizer.add_datasample(
            osp.basename(sample.img_path),
            image,
            sample,
            draw_gt='gt_instances' in sample,
            show=False,
            pred_score_thr=0.0)
        panels.append(visualizer.get_image())

    rows = []
    blank = np.full_like(panels[0], 255)
    for start in range(0, len(panels), args.cols):
        row = panels[start:start + args.cols]
        row += [blank] * (args.cols - len(row))
        rows.append(np.concatenate(row, axis=1))
    mmcv.imwrite(np.concatenate(rows, axis=0)[..., ::-1], args.out)
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
