# Copyright (c) mmkdwsd authors. All rights reserved.
"""Per-class AP of the baseline vs the distilled student (the paper's chart).

Inputs, one for each model, in either form:

- the per-class AP json that ``MultiLabelPaperMetric(out_file=...)`` writes:
  ``{"classes": [...], "ap": [...]}``, AP in percent, ``null`` for classes
  without a positive in the evaluated set;
- the prediction pickle of ``tools/test.py --out FILE.pkl`` (MMEngine's
  ``DumpResults``: one dict per image with ``pred_score`` and
  ``gt_label``); AP is then computed with the same function as the metric
  (``mmkdwsd.evaluation.metrics.multilabel_paper_scores``).

Classes are sorted by gain (distilled - baseline), largest first. Classes
without AP in either input are left out and named.

Example::

    python tools/analysis_tools/plot_ap_gain.py \
        work_dirs/demo/baseline_ap.json work_dirs/demo/stage2_ap.json \
        --out docs/ap_gain_multidigits.png
"""
import argparse
import json
import os
import os.path as osp
import pickle
from typing import List, Optional, Sequence, Tuple

import numpy as np


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Per-class AP gain of the distilled student')
    parser.add_argument('baseline', help='baseline per-class AP json or pkl')
    parser.add_argument('distilled', help='distilled per-class AP json/pkl')
    parser.add_argument('--out', required=True, help='output image')
    parser.add_argument(
        '--score-key',
        default='pred_score',
        help='score key in prediction pickles; dots walk nested dicts')
    parser.add_argument(
        '--classes',
        nargs='+',
        help='class names for prediction pickles (default: indices, or the '
        'names of a json input)')
    parser.add_argument(
        '--labels',
        nargs=2,
        default=['baseline', 'distilled'],
        help='legend names (default: baseline distilled)')
    parser.add_argument('--title', help='figure title')
    return parser.parse_args(argv)


def _get(sample: dict, key: str):
    for part in key.split('.'):
        sample = sample[part]
    return sample


def ap_from_predictions(samples: Sequence[dict],
                        score_key: str = 'pred_score') -> np.ndarray:
    """Per-class AP (percent, NaN without positives) from predictions.

    Args:
        samples (Sequence[dict]): Dicts with ``score_key`` (K,) scores,
            ``gt_label`` class indices and optional ``gt_label_ignore``.
        score_key (str): Score key. Defaults to ``'pred_score'``.

    Returns:
        np.ndarray: Shape (K,).
    """
    import torch

    from mmkdwsd.evaluation.metrics import multilabel_paper_scores

    def numpy(x):
        return x.detach().cpu().numpy() if isinstance(
            x, torch.Tensor) else np.asarray(x)

    scores = np.stack([numpy(_get(s, score_key)).reshape(-1) for s in samples])
    gt = np.zeros(scores.shape, dtype=bool)
    valid = np.ones_like(gt)
    for i, s in enumerate(samples):
        gt[i, numpy(s['gt_label']).astype(np.int64).reshape(-1)] = True
        ignore = s.get('gt_label_ignore')
        if ignore is not None:
            valid[i, numpy(ignore).astype(np.int64).reshape(-1)] = False
    return multilabel_paper_scores(scores, gt, valid)[1]


def load_ap(
        path: str,
        score_key: str = 'pred_score'
) -> Tuple[Optional[List[str]], np.ndarray]:
    """Class names (None if unknown) and per-class AP in percent.

    Args:
        path (str): A per-class AP json or a prediction pickle.
        score_key (str): Score key for pickles.

    Returns:
        tuple[list[str] | None, np.ndarray]: Names and AP (NaN = none).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'"{path}" does not exist')
    if path.endswith(('.pkl', '.pickle')):
        with open(path, 'rb') as f:
            samples = pickle.load(f)
        if not isinstance(samples, list) or not samples:
            raise ValueError(f'{path}: expected a non-empty list of '
                             'predictions (tools/test.py --out)')
        return None, ap_from_predictions(samples, score_key)
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or 'ap' not in data:
        raise ValueError(f'{path}: expected {{"classes": [...], "ap": '
                         '[...]}} (MultiLabelPaperMetric out_file)')
    ap = np.array([np.nan if v is None else v for v in data['ap']],
                  dtype=np.float64)
    classes = data.get('classes')
    if classes is not None and len(classes) != len(ap):
        raise ValueError(f'{path}: {len(classes)} classes, {len(ap)} APs')
    return classes, ap


def plot_gain(classes: Sequence[str],
              base: np.ndarray,
              dist: np.ndarray,
              out: str,
              labels: Sequence[str] = ('baseline', 'distilled'),
              title: Optional[str] = None) -> Tuple[List[str], np.ndarray]:
    """Grouped AP bars (top) and gain bars (bottom), sorted by gain.

    Returns:
        tuple[list[str], np.ndarray]: Plotted classes and their gains.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    keep = ~(np.isnan(base) | np.isnan(dist))
    names = [c for c, k in zip(classes, keep) if k]
    if not names:
        raise ValueError('no class has an AP in both inputs')
    base, dist = base[keep], dist[keep]
    gain = dist - base
    order = np.argsort(-gain, kind='stable')
    names = [names[i] for i in order]
    base, dist, gain = base[order], dist[order], gain[order]
    x = np.arange(len(names))

    width = max(6.0, 0.35 * len(names) + 2)
    fig, (ax1, ax2) = plt.subplots(
        2,
        1,
        figsize=(width, 6),
        sharex=True,
        gridspec_kw=dict(height_ratios=[2, 1]))
    ax1.bar(
        x - 0.2,
        base,
        0.4,
        label=f'{labels[0]} (mAP {base.mean():.1f})',
        color='#8c8c8c')
    ax1.bar(
        x + 0.2,
        dist,
        0.4,
        label=f'{labels[1]} (mAP {dist.mean():.1f})',
        color='#1f77b4')
    ax1.set_ylabel('AP (%)')
    ax1.set_ylim(0, 105)
    ax1.legend(loc='lower left', fontsize=8)
    ax1.grid(axis='y', alpha=0.3)
    ax2.bar(x, gain, 0.6, color=np.where(gain >= 0, '#2ca02c', '#d62728'))
    ax2.axhline(0, color='black', lw=0.8)
    ax2.set_ylabel('AP gain')
    ax2.set_xticks(x)
    ax2.set_xticklabels(names, rotation=90 if len(names) > 12 else 0)
    ax2.grid(axis='y', alpha=0.3)
    fig.suptitle(title or f'Per-class AP: {labels[1]} vs {labels[0]} '
                 f'(mean gain {gain.mean():+.2f})')
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return names, gain


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    names_b, base = load_ap(args.baseline, args.score_key)
    names_d, dist = load_ap(args.distilled, args.score_key)
    if len(base) != len(dist):
        raise ValueError(f'{len(base)} classes in {args.baseline}, '
                         f'{len(dist)} in {args.distilled}')
    if names_b and names_d and list(names_b) != list(names_d):
        raise ValueError('the two inputs name different classes')
    classes = args.classes or names_b or names_d or [
        str(i) for i in range(len(base))
    ]
    if len(classes) != len(base):
        raise ValueError(f'{len(classes)} class names for {len(base)} APs')
    skipped = [
        c for c, b, d in zip(classes, base, dist) if np.isnan(b) or np.isnan(d)
    ]
    names, gain = plot_gain(classes, base, dist, args.out, args.labels,
                            args.title)
    print(f'{len(names)} classes, mean AP gain {gain.mean():+.2f} '
          f'-> {args.out}')
    for name, g in zip(names, gain):
        print(f'  {name}: {g:+.2f}')
    if skipped:
        print(f'left out (no positives): {", ".join(skipped)}')


if __name__ == '__main__':
    main()
