# Copyright (c) mmkdwsd authors. All rights reserved.
"""How good the seeds of OICR's refinement are: the regions each stream's
pseudo-labels start from, against the true boxes.

A refinement stream learns from seeds mined from the previous stream's
region scores (``mine_pseudo_labels_batch``): OICR's best region per
present class, or PCL's graph centres (``refine_seeds=dict(type='graph')``).
For a trained teacher this runs its region scores on the data (the val
split by default, whose test pipeline loads the true boxes) and mines the
seeds of every (image, present class) from each stream both ways, then
counts: seeds per pair, the share of seeds on a true box of their class
(IoU >= 0.5), the same weighted by the seeds' scores (their loss weights),
the pairs whose first seed is right and those with any right seed, and the
true boxes some seed finds. Stream 0 is WSDDN's region scores, stream k the
k-th refinement stream's.

    python tools/analysis_tools/refine_seed_report.py CONFIG CKPT \\
        [--graph top_ratio=0.15 iou_thr=0.4 max_centers=5] [--name NAME]
"""
import argparse
import os.path as osp
import sys

import torch
from mmdet.structures.bbox import bbox_overlaps
from mmengine.config import Config, DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

from mmkdwsd.models.roi_heads.bbox_heads import graph_seeds  # noqa: E402
from mmkdwsd.models.roi_heads.bbox_heads.pseudo_labels import \
    check_seeds_cfg  # noqa: E402
from mmkdwsd.utils.progress import Progress  # noqa: E402

IOU = 0.5
HEADER = ('teacher', 'scores of', 'seeds', 'per (image, class)',
          'on a true box', 'weighted by score', 'first seed right',
          'pairs with a right seed', 'true boxes found')


def seeds_of_class(boxes: torch.Tensor, scores: torch.Tensor, cls: int,
                   seeds_cfg: dict) -> tuple:
    """The seed regions of one present class in one image.

    Args:
        boxes (Tensor): Regions, shape (R, 4).
        scores (Tensor): Foreground scores of the stream, shape (R, K).
        cls (int): The present class.
        seeds_cfg (dict): A checked seeding config (``check_seeds_cfg``).

    Returns:
        tuple[Tensor, Tensor]: Seed region indices (S, ) in the order they
        are taken, and their scores (S, ).
    """
    if seeds_cfg['type'] == 'top':
        best = scores[:, cls].argmax()
        return best[None], scores[best, cls][None]
    mask = torch.zeros(1, scores.shape[1], dtype=torch.bool)
    mask[0, cls] = True
    inds, seed_scores, valid = graph_seeds(boxes[None], scores[None], mask,
                                           seeds_cfg['top_ratio'],
                                           seeds_cfg['iou_thr'],
                                           seeds_cfg['max_centers'])
    keep = valid[0, cls]
    return inds[0, cls][keep], seed_scores[0, cls][keep]


def count_seeds(counts: dict, boxes: torch.Tensor, scores: torch.Tensor,
                gt_boxes: torch.Tensor, gt_labels: torch.Tensor,
                seeds_cfg: dict) -> None:
    """Add one image's seeds of every present class to ``counts``.

    Args:
        counts (dict): Running sums, updated in place.
        boxes (Tensor): Regions in the true boxes' coordinates, (R, 4).
        scores (Tensor): Foreground scores of the stream, shape (R, K).
        gt_boxes (Tensor): True boxes, shape (G, 4).
        gt_labels (Tensor): Their classes, shape (G, ).
        seeds_cfg (dict): A checked seeding config.
    """
    for cls in gt_labels.unique().tolist():
        truth = gt_boxes[gt_labels == cls]
        inds, seed_scores = seeds_of_class(boxes, scores, cls, seeds_cfg)
        right = bbox_overlaps(boxes[inds], truth) >= IOU  # (S, G_c)
        hits = right.any(dim=1)
        counts['pairs'] += 1
        counts['seeds'] += len(inds)
        counts['right'] += int(hits.sum())
        counts['weight'] += float(seed_scores.sum())
        counts['right_weight'] += float(seed_scores[hits].sum())
        counts['first'] += int(bool(hits[:1].any()))
        counts['any'] += int(bool(hits.any()))
        counts['boxes'] += len(truth)
        counts['found'] += int(right.any(dim=0).sum())


def _pct(num: float, den: float) -> str:
    return f'{100 * num / den:.1f}%' if den else '-'


def table_row(name: str, stream: str, kind: str, counts: dict) -> list:
    """A markdown table row of one stream and seeding's counts."""
    return [
        name, stream, kind,
        f'{counts["seeds"] / max(counts["pairs"], 1):.2f}',
        _pct(counts['right'], counts['seeds']),
        _pct(counts['right_weight'], counts['weight']),
        _pct(counts['first'], counts['pairs']),
        _pct(counts['any'], counts['pairs']),
        _pct(counts['found'], counts['boxes'])
    ]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='teacher config')
    parser.add_argument('checkpoint', help='teacher checkpoint')
    parser.add_argument('--name', help='row name (default: the config\'s)')
    parser.add_argument(
        '--graph', nargs='*', default=[], metavar='KEY=VALUE',
        help='graph-centre settings (top_ratio, iou_thr, max_centers); '
        'default: the teacher\'s own if it uses graph seeds, else PCL\'s')
    parser.add_argument('--split', default='val', choices=['val', 'test'],
                        help='dataloader of the config to run')
    parser.add_argument('--max-images', type=int,
                        help='stop after this many images')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        metavar='KEY=VALUE', help='config overrides')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


def _graph_cfg(pairs: list, head_seeds: dict) -> dict:
    cfg = dict(head_seeds) if head_seeds['type'] == 'graph' else dict(
        type='graph')
    for pair in pairs:
        key, sep, value = pair.partition('=')
        if not sep:
            raise ValueError(f'--graph: {pair!r} is not KEY=VALUE')
        cfg[key] = float(value) if key != 'max_centers' else int(value)
    return check_seeds_cfg(cfg)


def main(argv=None) -> list:
    args = parse_args(argv)
    from mmengine.runner import Runner, load_checkpoint

    from mmkdwsd.registry import MODELS
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} not found')
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    head = model.roi_head.bbox_head
    kinds = dict(top=check_seeds_cfg(None),
                 graph=_graph_cfg(args.graph, head.refine_seeds))
    loader = Runner.build_dataloader(cfg[f'{args.split}_dataloader'])
    num_streams = 1 + head.num_refine
    keys = ('pairs', 'seeds', 'right', 'weight', 'right_weight', 'first',
            'any', 'boxes', 'found')
    counts = {(s, k): dict.fromkeys(keys, 0)
              for s in range(num_streams) for k in kinds}
    total = len(loader.dataset)
    if args.max_images:
        total = min(total, args.max_images)
    seen = 0
    with torch.no_grad(), Progress(total, 'refinement seeds',
                                   enabled=not args.no_progress) as bar:
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            samples = data['data_samples']
            proposals = model.get_proposals(samples)
            regions = model.roi_head.forward_regions(
                model.extract_feat(data['inputs']), proposals)
            num_rois = [len(p) for p in regions['proposals']]
            wsddn, _ = head.get_region_scores(
                torch.cat(regions['cls_logits']),
                torch.cat(regions['det_logits']), num_rois)
            streams = [wsddn] + [
                list(torch.softmax(logits.float(), dim=1)
                     [:, :head.num_classes].split(num_rois))
                for logits in regions['refine_logits']
            ]
            for i, sample in enumerate(samples):
                if 'gt_instances' not in sample or \
                        'bboxes' not in sample.gt_instances:
                    raise KeyError(
                        f'{sample.metainfo.get("img_path", i)}: no true '
                        'boxes; use a config whose test pipeline runs '
                        'mmdet.LoadAnnotations(with_bbox=True)')
                gt = sample.gt_instances
                boxes = head._map_to_image(regions['proposals'][i].float(),
                                           sample.metainfo, True)
                for s in range(num_streams):
                    for kind, seeds_cfg in kinds.items():
                        count_seeds(counts[(s, kind)], boxes,
                                    streams[s][i].float(),
                                    gt.bboxes.float().reshape(-1, 4),
                                    gt.labels.reshape(-1), seeds_cfg)
                seen += 1
                bar.update(1)
                if seen >= total:
                    break
            if seen >= total:
                break
    name = args.name or osp.splitext(osp.basename(args.config))[0]
    graph = kinds['graph']
    names = dict(top='best region (OICR)',
                 graph=(f'graph centres (top {graph["top_ratio"]:g}, IoU > '
                        f'{graph["iou_thr"]:g}, up to '
                        f'{graph["max_centers"]})'))
    rows = [
        table_row(name, 'WSDDN' if s == 0 else f'refinement {s}',
                  names[kind], counts[(s, kind)])
        for s in range(num_streams) for kind in kinds
    ]
    print(f'### refinement seeds on {seen} images (right: IoU >= {IOU} with '
          'a true box of the class)')
    print('| ' + ' | '.join(HEADER) + ' |')
    print('|' + '---|' * len(HEADER))
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')
    return rows


if __name__ == '__main__':
    main()
