# Copyright (c) mmkdwsd authors. All rights reserved.
"""Export the student of a distillation checkpoint as a plain mmpretrain
model (checkpoint without ``student.`` prefixes + standalone config).

Example (the main job's last stage; ``make demo`` exports it itself)::

    python tools/export_student.py \
        configs/kdwsd/kdwsd-stage2-feat_*_multidigits-32px.py \
        work_dirs/demo/stage2/epoch_6.pth --out-dir work_dirs/demo/export

    # then, without mmkdwsd:
    python -c "from mmpretrain.apis import ImageClassificationInferencer \
        as I; print(I('work_dirs/demo/export/student_config.py', \
        pretrained='work_dirs/demo/export/student.pth')('img.png'))"
"""
import argparse

from mmkdwsd.apis import export_student


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a distilled student for mmpretrain/mmdeploy')
    parser.add_argument('config', help='distiller (or student) config')
    parser.add_argument('checkpoint', help='checkpoint trained with it')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--name', default='student', help='file stem (default: student)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    ckpt, cfg = export_student(args.config, args.checkpoint, args.out_dir,
                               args.name)
    print(f'checkpoint: {ckpt}\nconfig: {cfg}')


if __name__ == '__main__':
    main()
