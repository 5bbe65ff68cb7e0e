# Copyright (c) mmkdwsd authors. All rights reserved.
"""Does the 64 px input still hold what the 128 px reference reads?

An analysis for issue 8's "recover 90% of the resolution gap" target on the
large MultiDigits preset, not part of the method. The benchmark student sees
each scene at 64 px; the upper reference is the same network at 128 px. A
distilled student keeps the 64 px network, so it can close the gap only as
far as two things allow: the information left in the 64 px images, and what
the 64 px network (a feature map half as fine at every stage) can make of
it. This script measures the first: the 128 px reference's network fed the
student's own 64 px images upsampled to 128 px (bilinear, on the model's
device, after the baseline's data preprocessing), evaluated as it is and
after ``--epochs`` of fine-tuning on such images (the baseline's recipe:
flip, Adam, warm-up and cosine, at a tenth of its peak learning rate by
default, ``--lr``).

If the fine-tuned network gets close to the reference, the 64 px images
hold the information and what limits the distilled student is its network
or its training; if it stays near the baseline, the input resolution does,
and no teacher can lift the 64 px student much.

    python tools/analysis_tools/upsampled_input_probe.py --checkpoint \\
        work_dirs/benchmarks/epochs60/reference/seed0/epoch_60.pth \\
        --work-dir work_dirs/upsampled_probe/seed0 [--epochs 10] [--seed 0]
"""
import argparse
import json
import os.path as osp
import sys

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)

import torch.nn.functional as F  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmkdwsd.models.data_preprocessors import \
    PreDecodedDataPreprocessor  # noqa: E402
from mmkdwsd.registry import MODELS  # noqa: E402

CONFIG = ('configs/benchmarks/'
          'resnet18-tiny_1xb64-30e_multidigits-large-64px.py')


@MODELS.register_module(force=True)  # the tests load this file again
class UpsampledInputPreprocessor(PreDecodedDataPreprocessor):
    """:class:`PreDecodedDataPreprocessor` whose output images are then
    upsampled (bilinear) to ``size``: the low-resolution view, enlarged.

    Args:
        size (int): Side of the upsampled input.
        **kwargs: :class:`PreDecodedDataPreprocessor`'s arguments.
    """

    def __init__(self, size: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.size = size

    def forward(self, data: dict, training: bool = False) -> dict:
        out = super().forward(data, training)
        out['inputs'] = F.interpolate(
            out['inputs'], size=(self.size, self.size), mode='bilinear',
            align_corners=False)
        return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoint', required=True,
                        help='the 128 px reference run\'s checkpoint')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--data-root', default='data/multidigits_large')
    parser.add_argument('--size', type=int, default=128,
                        help='side the 64 px images are upsampled to')
    parser.add_argument('--epochs', type=int, default=10,
                        help='fine-tuning epochs after the first evaluation '
                        '(0: evaluate only)')
    parser.add_argument('--lr', type=float, default=1e-4,
                        help='peak learning rate of the fine-tuning (Adam; '
                        'the baseline trains from scratch at 1e-3)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=2)
    return parser.parse_args(argv)


def build_config(args) -> Config:
    """The 64 px baseline's config, its images upsampled to ``--size``,
    starting from ``--checkpoint``, fine-tuned for ``--epochs``."""
    cfg = Config.fromfile(osp.join(_ROOT, CONFIG))
    pre = cfg.model.data_preprocessor
    pre.type = 'mmkdwsd.UpsampledInputPreprocessor'
    pre.size = args.size
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        inner = loader.dataset.get('dataset', loader.dataset)
        inner.data_root = osp.abspath(args.data_root) + '/'
        loader.num_workers = args.workers
        loader.persistent_workers = args.workers > 0
        loader.pin_memory = False
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    epochs = max(args.epochs, 1)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs,
                         val_interval=epochs)
    for sched in cfg.param_scheduler:
        if sched.get('by_epoch', True):
            sched.update(end=epochs, T_max=epochs)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=epochs, max_keep_ckpts=1)
    cfg.optim_wrapper.optimizer.lr = args.lr
    cfg.load_from = osp.abspath(args.checkpoint)
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = args.work_dir
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'--checkpoint {args.checkpoint}: no such file (the reference '
            'run of tools/benchmarks/accuracy.py, e.g. '
            'work_dirs/benchmarks/epochs60/reference/seed0/epoch_60.pth)')
    cfg = build_config(args)
    # two runners: Runner.train() initialises the weights again after a
    # Runner.val() has loaded the checkpoint, and would not load it twice
    result = dict(before=Runner.from_cfg(
        dict(cfg, experiment_name='before')).val())
    if args.epochs > 0:
        runner = Runner.from_cfg(dict(cfg, experiment_name='finetune'))
        runner.train()
        result['after'] = runner.val()
    result = {when: {k: round(float(v), 2) for k, v in metrics.items()}
              for when, metrics in result.items()}
    result.update(checkpoint=args.checkpoint, epochs=args.epochs,
                  size=args.size, lr=args.lr, seed=args.seed)
    with open(osp.join(args.work_dir, 'probe.json'), 'w') as f:
        json.dump(result, f, indent=1)
    for when in ('before', 'after'):
        if when in result:
            print(f'{when} fine-tuning: mAP {result[when]["mAP"]}, CF1 '
                  f'{result[when]["CF1"]}, OF1 {result[when]["OF1"]}',
                  flush=True)
    return result


if __name__ == '__main__':
    main()
