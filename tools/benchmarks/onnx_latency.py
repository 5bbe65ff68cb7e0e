# Copyright (c) mmkdwsd authors. All rights reserved.
"""Student latency on the CPU: ONNX Runtime vs PyTorch (issue 8, part 3).

The student goes through the project's deployment path: exported as a plain
mmpretrain model (:func:`mmkdwsd.apis.export_student`), converted by
mmdeploy (:func:`mmkdwsd.deploy.export_onnx`, the shipped deploy config),
then timed as a raw ``onnxruntime.InferenceSession`` against the PyTorch
model in eval mode (``tensor`` mode + sigmoid: the same graph mmdeploy
exported) on the same preprocessed batch, with the same thread count.

Timing: warm-up, then ``--repeats`` rounds; each round times PyTorch and
ONNX Runtime back to back (interleaved, so load from other processes on a
shared machine hits both alike) and the medians are reported. The headline
is the ratio PyTorch / ONNX Runtime (> 1: ONNX Runtime is faster).

Without ``--checkpoint`` the student keeps its random initial weights:
latency does not depend on the weights' values.

Example::

    python tools/benchmarks/onnx_latency.py \
        --config configs/mlc/resnet18-tiny_1xb8-12e_multidigits-32px.py \
        --batch-sizes 1 8 --threads 1 --out work_dirs/benchmarks/onnx
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)  # the checkout's mmkdwsd, not a stale install
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_utils import env_line, markdown_table, write_report  # noqa: E402

DEFAULT_CONFIG = 'configs/mlc/resnet18-tiny_1xb8-12e_multidigits-32px.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='CPU latency of the student: ONNX Runtime vs PyTorch')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='student or distiller config')
    parser.add_argument('--checkpoint',
                        help='trained checkpoint (default: random weights)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--threads', type=int, default=1,
                        help='torch and ONNX Runtime intra-op threads')
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=50)
    parser.add_argument('--out', default='work_dirs/benchmarks/onnx',
                        help='folder of the report (and the ONNX file)')
    parser.add_argument('--tiny', action='store_true',
                        help='smoke test: few repeats')
    return parser.parse_args(argv)


def export(args: argparse.Namespace, work_dir: str):
    """Standalone student config + checkpoint, and its ONNX file."""
    from mmengine.config import Config

    from mmkdwsd.apis import export_student
    from mmkdwsd.deploy import export_onnx, prepare_model_cfg
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    ckpt = args.checkpoint
    if ckpt is None:
        from mmkdwsd.registry import MODELS
        cfg = Config.fromfile(args.config)
        model_cfg = cfg.model.get('student', cfg.model)
        torch.manual_seed(0)
        model = MODELS.build(model_cfg)
        model.init_weights()
        ckpt = osp.join(work_dir, 'random_init.pth')
        torch.save(dict(state_dict=model.state_dict()), ckpt)
    student_ckpt, student_cfg = export_student(args.config, ckpt,
                                               osp.join(work_dir, 'export'))
    model_cfg = prepare_model_cfg(student_cfg)
    size = _input_size(model_cfg)
    import mmcv
    img = osp.join(work_dir, 'trace.png')
    rng = np.random.default_rng(0)
    mmcv.imwrite(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), img)
    onnx_file = export_onnx(model_cfg, student_ckpt, img,
                            osp.join(work_dir, 'onnx'))
    return model_cfg, student_ckpt, onnx_file, size


def _input_size(model_cfg) -> int:
    for step in model_cfg.test_pipeline:
        if 'Resize' in step['type'] and 'scale' in step:
            scale = step['scale']
            return int(scale[0] if isinstance(scale, (list, tuple)) else scale)
    return 224


def load_torch_model(model_cfg, ckpt: str) -> torch.nn.Module:
    from mmengine.runner import load_checkpoint
    from mmpretrain.apis import get_model
    model = get_model(model_cfg)
    load_checkpoint(model, ckpt, map_location='cpu')
    return model.eval()


def time_pair(torch_fn, ort_fn, warmup: int, repeats: int):
    """Interleaved timing; median milliseconds of each."""
    for _ in range(warmup):
        torch_fn()
        ort_fn()
    t_torch, t_ort = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        torch_fn()
        t_torch.append(time.perf_counter() - start)
        start = time.perf_counter()
        ort_fn()
        t_ort.append(time.perf_counter() - start)
    return (float(np.median(t_torch)) * 1e3, float(np.median(t_ort)) * 1e3)


def run(args: argparse.Namespace) -> str:
    import onnxruntime as ort
    if args.tiny:
        args.warmup, args.repeats = 2, 5
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    work_dir = tempfile.mkdtemp(prefix='onnx_', dir=args.out)
    model_cfg, ckpt, onnx_file, size = export(args, work_dir)
    model = load_torch_model(model_cfg, ckpt)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(
        onnx_file, opts, providers=['CPUExecutionProvider'])
    in_name = session.get_inputs()[0].name
    rows = []
    for batch in args.batch_sizes:
        x = torch.randn(batch, 3, size, size,
                        generator=torch.Generator().manual_seed(batch))
        x_np = x.numpy()

        def torch_fn(x=x):
            with torch.inference_mode():
                return torch.sigmoid(model(x, mode='tensor'))

        def ort_fn(x_np=x_np):
            return session.run(None, {in_name: x_np})[0]

        diff = float(np.abs(torch_fn().numpy() - ort_fn()).max())
        ms_torch, ms_ort = time_pair(torch_fn, ort_fn, args.warmup,
                                     args.repeats)
        rows.append([
            batch, f'{size}x{size}', f'{ms_torch:.2f}', f'{ms_ort:.2f}',
            f'{ms_torch / ms_ort:.2f}', f'{diff:.1e}'
        ])
    header = [
        'batch', 'input', 'PyTorch ms', 'ONNX Runtime ms',
        'PyTorch / ONNX Runtime', 'max abs diff'
    ]
    config = osp.relpath(args.config, _ROOT)
    weights = 'trained' if args.checkpoint else 'random init'
    title = (f'Student CPU latency, ONNX Runtime vs PyTorch ({config}, '
             f'{weights}, {args.threads} thread(s), median of '
             f'{args.repeats})')
    env = env_line(args, 'cpu', f'onnxruntime {ort.__version__}')
    text = f'## {title}\n\n{markdown_table(header, rows)}\n\n{env}\n'
    write_report(text, osp.join(args.out, 'onnx_latency.md'))
    return text


def main(argv=None) -> None:
    args = parse_args(argv)
    args.out = osp.abspath(args.out)
    for key in ('config', 'checkpoint'):
        path = getattr(args, key)
        if path is not None and osp.isfile(path):
            setattr(args, key, osp.abspath(path))
    os.chdir(_ROOT)  # configs name files relative to the repository
    print(run(args), flush=True)


if __name__ == '__main__':
    main()
