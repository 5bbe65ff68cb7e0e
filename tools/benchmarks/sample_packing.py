# Copyright (c) mmkdwsd authors. All rights reserved.
"""Host work of the fast path's data samples: metainfo deep-copied or not.

``PreDecodedDataPreprocessor`` builds one data sample per image and view in
the training process, on the host, whatever the device. This script times
that work alone, as ``speed.py``'s "data samples alone" row does (one
batch of the benchmark configs' loaders with its images cut to 8 x 8
pixels, so that the tensor work is nil), once with each sample's metainfo
set by ``set_metainfo`` (MMEngine's, which deep-copies it: what the
preprocessor did before) and once by ``set_field`` per key (no copy: what
it does now), interleaved round by round in one process.

    python tools/benchmarks/sample_packing.py --data-root DIR

``DIR`` holds the large-preset layout with window proposals (for example
``accuracy.py --prepare-only --data-root DIR --num-train 256``).
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from bench_utils import env_line, markdown_table  # noqa: E402

CONFIGS = {
    'student view': 'configs/benchmarks/resnet18-tiny_1xb64-30e_'
    'multidigits-large-64px.py',
    'two views': 'configs/benchmarks/kdwsd-stage1_wsddn-resnet18-tiny_'
    'resnet18-tiny_1xb64-30e_multidigits-large-64px.py',
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--proposal-file',
                        default='proposals/windows_train.pkl',
                        help='relative to --data-root')
    parser.add_argument('--batches', type=int, default=50,
                        help='batches timed per round and variant')
    parser.add_argument('--rounds', type=int, default=7)
    return parser.parse_args(argv)


def _deep_copied(sample, meta: dict):
    sample.set_metainfo(meta)  # MMEngine deep-copies ``meta``
    return sample


def _preprocessor_and_batch(path: str, args: argparse.Namespace):
    from mmengine.config import Config

    from mmkdwsd.registry import DATASETS, MODELS
    cfg = Config.fromfile(osp.join(_ROOT, path))
    inner = cfg.train_dataloader.dataset
    while True:
        if 'data_root' in inner:
            inner.data_root = osp.join(args.data_root, '')
        if inner.get('proposal_file'):
            inner.proposal_file = args.proposal_file
        if 'dataset' not in inner:
            break
        inner = inner.dataset
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    size = min(cfg.train_dataloader.batch_size, len(dataset))
    batch = dataset.__getitems__(list(range(size)))[0]
    batch['images'] = batch['images'][:, :8, :8].contiguous()
    model = cfg.model
    if 'teacher_ckpt' in model:
        model.teacher_ckpt = None  # only the preprocessor is used
    model.data_preprocessor.views = [
        dict(view, scales=[8]) for view in model.data_preprocessor.views
    ]
    return MODELS.build(model).data_preprocessor, batch


def main(argv=None) -> None:
    args = parse_args(argv)
    os.chdir(_ROOT)
    import torch

    from mmkdwsd.models.data_preprocessors import \
        predecoded_data_preprocessor as module
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(1)
    variants = {
        'set_metainfo (deep copy, before)': _deep_copied,
        'set_field per key (no copy, now)': module._with_metainfo,
    }
    rows = []
    try:
        for view, path in CONFIGS.items():
            preprocessor, batch = _preprocessor_and_batch(path, args)
            times = {name: [] for name in variants}
            for _ in range(args.rounds):
                for name, fn in variants.items():
                    module._with_metainfo = fn
                    for _ in range(3):  # warm-up
                        preprocessor(batch, True)
                    start = time.perf_counter()
                    for _ in range(args.batches):
                        preprocessor(batch, True)
                    times[name].append(
                        (time.perf_counter() - start) / args.batches)
            first = statistics.median(times[next(iter(variants))])
            for name, values in times.items():
                t = statistics.median(values)
                rows.append([
                    view, name, f'{t * 1e3:.2f}',
                    f'{len(batch["images"]) / t:,.0f}', f'{first / t:.2f}x'
                ])
    finally:
        module._with_metainfo = variants['set_field per key (no copy, now)']
    print(markdown_table(['view', 'metainfo', 'ms per batch (median)',
                          'img/s', 'speed-up'], rows))
    print(f'\nbatch of the configs\' loaders, images cut to 8 x 8 px, '
          f'{args.rounds} rounds of {args.batches} batches per variant, '
          f'interleaved, 1 thread; {env_line()}')


if __name__ == '__main__':
    main()
