# Copyright (c) mmkdwsd authors. All rights reserved.
"""Deploy the exported student: mmdeploy -> ONNX -> ONNX Runtime.

1. converts the standalone student (``tools/export_student.py``) with
   mmdeploy's ``torch2onnx`` (``configs/deploy/``: onnxruntime backend,
   dynamic batch);
2. checks the ONNX Runtime outputs against PyTorch on a batch (max abs
   difference printed, failing above ``--atol``);
3. runs the ONNX model on the image through mmdeploy's ``inference_model``
   and prints the predicted labels and scores.

Example::

    python tools/deploy.py work_dirs/demo/export/student_config.py \
        work_dirs/demo/export/student.pth --work-dir work_dirs/deploy \
        --img data/multidigits_small/test/000000.png
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

from mmkdwsd.deploy import (DEFAULT_DEPLOY_CFG, OnnxParityError, build_models,
                            check_onnx_parity, export_onnx, format_prediction,
                            load_class_names, make_batch, onnx_inference,
                            prepare_model_cfg)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export the student to ONNX with mmdeploy and check it')
    parser.add_argument('config', help='standalone student config')
    parser.add_argument('checkpoint', help='student checkpoint')
    parser.add_argument('--work-dir', required=True, help='output folder')
    parser.add_argument(
        '--deploy-cfg',
        default=DEFAULT_DEPLOY_CFG,
        help='mmdeploy deploy config (default: %(default)s)')
    parser.add_argument(
        '--img',
        help='image to trace, check and predict (default: a synthetic '
        'image written into the work dir)')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=3,
        help='samples in the parity batch (default: 3)')
    parser.add_argument(
        '--atol',
        type=float,
        default=1e-4,
        help='largest allowed |ONNX - PyTorch| score (default: 1e-4)')
    parser.add_argument('--device', default='cpu', help='device (cpu)')
    return parser.parse_args()


def synthetic_image(work_dir: str) -> str:
    """Write a fixed random 64x64 image and return its path."""
    import mmcv
    path = osp.join(work_dir, 'synthetic.png')
    rng = np.random.default_rng(0)
    mmcv.imwrite(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), path)
    return path


def main() -> int:
    args = parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    img = args.img or synthetic_image(args.work_dir)
    if not osp.isfile(img):
        raise FileNotFoundError(f'image "{img}" does not exist')
    model_cfg = prepare_model_cfg(args.config)

    onnx_file = export_onnx(model_cfg, args.checkpoint, img, args.work_dir,
                            args.deploy_cfg, args.device)
    print(f'ONNX model: {onnx_file}')

    task, torch_model, backend_model = build_models(model_cfg, args.checkpoint,
                                                    onnx_file, args.deploy_cfg,
                                                    args.device)
    inputs = make_batch(task, img, torch_model, args.batch_size)
    try:
        max_diff = check_onnx_parity(torch_model, backend_model, inputs,
                                     onnx_file, args.atol)
    except OnnxParityError as e:
        print(f'ONNX parity check FAILED: {e}', file=sys.stderr)
        return 1
    print(f'ONNX parity: max abs difference {max_diff:.3g} on a batch of '
          f'{len(inputs)} {tuple(inputs.shape[1:])} inputs '
          f'(tolerance {args.atol:g})')

    classes = load_class_names(model_cfg, args.checkpoint)
    sample = onnx_inference(model_cfg, onnx_file, img, args.deploy_cfg,
                            args.device)[0]
    preds = format_prediction(sample, classes)
    print(f'ONNX Runtime prediction for {img}:')
    if not preds:
        print('  no class above the head threshold; highest scores:')
        preds = format_prediction(sample, classes, thr=0.0)[:3]
    for name, score in preds:
        print(f'  {name}: {score:.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
