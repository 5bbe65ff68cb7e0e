# Copyright (c) mmkdwsd authors. All rights reserved.
"""How much a student checkpoint's intermediate maps say about the labels.

An analysis for issue 8 (docs/benchmarks.md, "Stage 1's own randomness,
and a linear probe of its features"), not part of the method. Stage 1 of
the staged recipe trains only the student's stem and the layer it pools
the teacher's regions from (``feat_distill.student_layer``); stage 2
starts from that. Two stage-1 students that differ only in their teacher
give stage-2 students that differ by a few mAP points, in either
direction. This measures the stage-1 features themselves: for each
checkpoint, the maps of each ``--layers`` module of the student network
over the training and validation images (the config's loaders, no
augmentation), pooled to a ``--grid`` x ``--grid`` grid
(``--pool avg`` or ``max``) and flattened, then one linear multi-label
classifier (a logistic regression per class, L2-regularised, fitted to
convergence by L-BFGS on the standardised training features) is fitted on
the training images and scored on the validation images with the paper's
metrics (:func:`~mmkdwsd.evaluation.multilabel_paper_scores`). The L2
strength is chosen from ``--weight-decays`` by mAP on a held-out fifth of
the training images, then refitted on all of them.

A checkpoint is a ``tools/train.py`` checkpoint of the student network
(``mmpretrain.ImageClassifier``) or of a distiller, whose ``student.`` keys
are used; ``init`` stands for the network as the config initialises it
(``--seed``), the floor. ``NAME=PATH`` names a row.

    python tools/analysis_tools/linear_probe.py \\
        configs/benchmarks/resnet18-tiny_1xb64-30e_multidigits-large-64px.py \\
        init t10=work_dirs/benchmarks/x_students_oicr/ss_twin/kd_stage1/\\
seed0/epoch_15.pth --data-root data/md_large_4000_1000 \\
        --layers backbone.layer1 --out work_dirs/linear_probe/seed0.json
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.runner.checkpoint import _load_checkpoint  # noqa: E402

from mmkdwsd.evaluation import multilabel_paper_scores  # noqa: E402
from mmkdwsd.registry import MODELS  # noqa: E402
from mmkdwsd.utils import (Progress, atomic_dump_json,  # noqa: E402
                           register_all_modules)

INIT = 'init'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Linear probe on a student checkpoint\'s maps')
    parser.add_argument('config', help='the student network\'s config '
                        '(an mmpretrain ImageClassifier with its loaders)')
    parser.add_argument('checkpoints', nargs='+', metavar='[NAME=]PATH',
                        help=f'checkpoints to probe; {INIT!r}: the '
                        'config\'s initialisation')
    parser.add_argument('--layers', nargs='+', default=['backbone.layer1'],
                        help='modules of the student network whose output '
                        'maps are probed')
    parser.add_argument('--grid', type=int, default=4,
                        help='each map is pooled to GRID x GRID cells')
    parser.add_argument('--pool', choices=('avg', 'max'), default='avg')
    parser.add_argument('--weight-decays', type=float, nargs='+',
                        default=[1e-4, 1e-3, 1e-2, 1e-1],
                        help='L2 strengths tried on the held-out fifth')
    parser.add_argument('--data-root', default=None,
                        help='replaces the loaders\' data_root')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--workers', type=int, default=2,
                        help='loader worker processes')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the initialisation and the split')
    parser.add_argument('--out', default=None, help='result json')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default={})
    return parser.parse_args(argv)


def named_checkpoints(items: Sequence[str]) -> List[Tuple[str, str]]:
    """``[NAME=]PATH`` items as ``(name, path)``, each path checked.

    Raises:
        FileNotFoundError: A path other than ``init`` is not a file.
        ValueError: Two items share a name.
    """
    named = []
    for item in items:
        name, sep, path = item.partition('=')
        if not sep:
            name = path = item
        if path != INIT and not osp.isfile(path):
            raise FileNotFoundError(
                f'checkpoint {path!r} (from {item!r}): no such file; give '
                f'a tools/train.py checkpoint or {INIT!r}')
        named.append((name, path))
    names = [name for name, _ in named]
    if len(set(names)) != len(names):
        raise ValueError(f'checkpoint names repeat: {names}; name each '
                         'row with NAME=PATH')
    return named


def student_state(path: str) -> Dict[str, torch.Tensor]:
    """A checkpoint's student network weights: its ``student.`` keys with
    the prefix removed (a distiller's checkpoint), else all of them."""
    ckpt = _load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    prefix = 'student.'
    if any(key.startswith(prefix) for key in state):
        state = {
            key[len(prefix):]: value
            for key, value in state.items() if key.startswith(prefix)
        }
    return state


def load_student(model: nn.Module, path: str, layers: Sequence[str]) -> None:
    """Load ``path``'s student weights into ``model``.

    Raises:
        ValueError: The checkpoint lacks a weight of the backbone or of a
            probed layer, or holds one of another shape.
    """
    state = student_state(path)
    own = model.state_dict()
    needed = [
        key for key in own
        if key.startswith(('backbone.', ) + tuple(f'{n}.' for n in layers))
    ]
    missing = [key for key in needed if key not in state]
    wrong = [
        f'{key} {tuple(state[key].shape)} (network: {tuple(own[key].shape)})'
        for key in needed
        if key in state and state[key].shape != own[key].shape
    ]
    if missing or wrong:
        more = ' ...' if len(missing) > 5 else ''
        raise ValueError(
            f'checkpoint {path!r} does not fit the config\'s student '
            f'network: missing {missing[:5]}{more}, other shape {wrong[:5]}; '
            'give a checkpoint of this network (or of a distiller whose '
            'student it is)')
    model.load_state_dict(state, strict=False)


def check_layers(model: nn.Module, layers: Sequence[str]) -> None:
    """Raise a ValueError naming the valid choices for an unknown layer."""
    names = dict(model.named_modules())
    for layer in layers:
        if layer not in names or not layer:
            choices = [n for n in names if n.count('.') <= 1 and n]
            raise ValueError(f'--layers {layer!r}: the student network has '
                             f'no such module; some it has: {choices}')


@torch.no_grad()
def extract(model: nn.Module, loader, layers: Sequence[str], grid: int,
            pool: str, desc: str) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Pooled maps of ``layers`` and the labels, over one loader.

    Args:
        model (nn.Module): The student network (``ImageClassifier``) with
            its data preprocessor, in eval mode.
        loader (DataLoader): Batches as the config's loaders give them.
        layers (Sequence[str]): Module names; each returns a map
            (B, C, H, W) (or a tuple whose last item is one).
        grid (int): Cells per side of the pooled map.
        pool (str): ``'avg'`` or ``'max'``.
        desc (str): Progress label.

    Returns:
        tuple: ``{layer: float32 (N, C * grid * grid)}`` and the bool labels
        (N, K).
    """
    maps: Dict[str, torch.Tensor] = {}
    hooks = [
        model.get_submodule(layer).register_forward_hook(
            lambda _m, _i, out, layer=layer: maps.__setitem__(
                layer, out[-1] if isinstance(out, (tuple, list)) else out))
        for layer in layers
    ]
    pool_fn = F.adaptive_avg_pool2d if pool == 'avg' else F.adaptive_max_pool2d
    feats: Dict[str, list] = {layer: [] for layer in layers}
    labels = []
    num_classes = model.head.num_classes
    try:
        with Progress(len(loader.dataset), desc) as progress:
            for batch in loader:
                data = model.data_preprocessor(batch, False)
                model.extract_feat(data['inputs'])
                for layer in layers:
                    feats[layer].append(
                        pool_fn(maps[layer].float(), grid).flatten(1).numpy())
                for sample in data['data_samples']:
                    row = np.zeros(num_classes, bool)
                    row[sample.gt_label.cpu().numpy()] = True
                    labels.append(row)
                progress.update(len(data['data_samples']))
    finally:
        for hook in hooks:
            hook.remove()
    return {k: np.concatenate(v) for k, v in feats.items()}, np.stack(labels)


def fit_logistic(x: np.ndarray, y: np.ndarray, weight_decay: float,
                 max_iter: int = 500) -> Tuple[np.ndarray, np.ndarray]:
    """One L2-regularised logistic regression per class, fitted jointly.

    Minimises the mean binary cross-entropy over (image, class) pairs plus
    ``weight_decay * |W|^2`` with L-BFGS (strong Wolfe line search) in
    float64.

    Args:
        x (np.ndarray): Standardised features (N, D).
        y (np.ndarray): 0/1 labels (N, K).
        weight_decay (float): L2 strength.
        max_iter (int): L-BFGS iterations at most.

    Returns:
        tuple: weights (D, K) and biases (K,).
    """
    xt = torch.from_numpy(x).double()
    yt = torch.from_numpy(y).double()
    w = torch.zeros(x.shape[1], y.shape[1], dtype=torch.float64,
                    requires_grad=True)
    b = torch.zeros(y.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter,
                            tolerance_grad=1e-9, tolerance_change=1e-12,
                            history_size=20, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(xt @ w + b, yt) \
            + weight_decay * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), b.detach().numpy()


def probe(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
          val_y: np.ndarray, weight_decays: Sequence[float],
          seed: int = 0) -> dict:
    """Fit the probe on the training features, score it on the validation
    ones.

    The L2 strength is the one of ``weight_decays`` with the best mAP on a
    held-out fifth of the training images (a seeded split); the probe is
    then refitted on all training images with it.

    Returns:
        dict: ``dim``, ``weight_decay``, ``held_out_mAP`` (per strength),
        ``train_mAP`` and the validation metrics (``mAP``, ``CF1``,
        ``OF1``, ...).
    """
    mean = train_x.mean(0)
    std = train_x.std(0) + 1e-6
    train_x = (train_x - mean) / std
    val_x = (val_x - mean) / std
    order = np.random.default_rng(seed).permutation(len(train_x))
    held, fit = order[:len(order) // 5], order[len(order) // 5:]

    def score(x, y, params):
        return multilabel_paper_scores(x @ params[0] + params[1], y)[0]

    held_out = {}
    for wd in weight_decays:
        params = fit_logistic(train_x[fit], train_y[fit], wd)
        held_out[wd] = score(train_x[held], train_y[held], params)['mAP']
    best = max(weight_decays, key=lambda wd: held_out[wd])
    params = fit_logistic(train_x, train_y, best)
    result = dict(dim=int(train_x.shape[1]), weight_decay=best,
                  held_out_mAP={str(k): round(v, 2)
                                for k, v in held_out.items()},
                  train_mAP=round(score(train_x, train_y, params)['mAP'], 2))
    result.update({
        k: round(v, 2) if isinstance(v, float) else v
        for k, v in score(val_x, val_y, params).items()
    })
    return result


def build_loaders(cfg: Config, args: argparse.Namespace) -> dict:
    """The config's training and validation loaders, in order, with
    ``--batch-size`` and ``--workers``."""
    loaders = {}
    for split in ('train', 'val'):
        loader_cfg = cfg[f'{split}_dataloader'].copy()
        dataset = loader_cfg.dataset
        inner = dataset.get('dataset', dataset)
        if args.data_root is not None:
            inner.data_root = osp.abspath(args.data_root) + '/'
        loader_cfg.sampler = dict(type='DefaultSampler', shuffle=False)
        loader_cfg.batch_size = args.batch_size
        loader_cfg.num_workers = args.workers
        loader_cfg.persistent_workers = False
        loader_cfg.pin_memory = False
        loaders[split] = Runner.build_dataloader(loader_cfg, seed=args.seed)
    return loaders


def markdown(results: dict, layers: Sequence[str]) -> str:
    lines = ['| checkpoint | layer | dim | L2 | train mAP | mAP | CF1 | OF1 |',
             '|---|---|---|---|---|---|---|---|']
    for name, by_layer in results.items():
        for layer in layers:
            r = by_layer[layer]
            lines.append(f'| {name} | {layer} | {r["dim"]} | '
                         f'{r["weight_decay"]:g} | {r["train_mAP"]:.1f} | '
                         f'{r["mAP"]:.1f} | {r["CF1"]:.1f} | '
                         f'{r["OF1"]:.1f} |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config {args.config!r}: no such file')
    checkpoints = named_checkpoints(args.checkpoints)
    register_all_modules()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('type', '').split('.')[-1] != 'ImageClassifier':
        raise ValueError(
            f'config {args.config!r}: model type {cfg.model.get("type")!r}; '
            'expected the student network (mmpretrain.ImageClassifier), '
            'e.g. the baseline student\'s config')
    loaders = build_loaders(cfg, args)
    results = {}
    for name, path in checkpoints:
        torch.manual_seed(args.seed)
        model = MODELS.build(cfg.model)
        model.init_weights()
        check_layers(model, args.layers)
        if path != INIT:
            load_student(model, path, args.layers)
        model.eval()
        feats = {
            split: extract(model, loader, args.layers, args.grid, args.pool,
                           f'{name} {split} maps')
            for split, loader in loaders.items()
        }
        results[name] = dict(checkpoint=path)
        for layer in args.layers:
            results[name][layer] = probe(
                feats['train'][0][layer], feats['train'][1],
                feats['val'][0][layer], feats['val'][1], args.weight_decays,
                args.seed)
        print(f'{name}: ' + ', '.join(
            f'{layer} mAP {results[name][layer]["mAP"]:.1f}'
            for layer in args.layers), flush=True)
    print(markdown(results, args.layers), flush=True)
    report = dict(config=args.config, layers=args.layers, grid=args.grid,
                  pool=args.pool, seed=args.seed, data_root=args.data_root,
                  results=results)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        atomic_dump_json(report, args.out)
    return report


if __name__ == '__main__':
    main()
