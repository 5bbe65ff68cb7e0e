# Copyright (c) mmkdwsd authors. All rights reserved.
"""Prediction-level distillation on soft targets cross-fitted over folds.

A teacher that fits its own training images gives soft targets there that
are nearly the labels (docs/benchmarks.md, ``soft_target_stats.py``: mean
``|p' - y|`` 0.06 on the benchmark's 10,000 scenes), so the prediction
level has little to add. Cross-fitting (the remedy the paper notes name)
splits the training scenes into K folds; for each fold a reference and a
teacher are trained on the other folds only (``accuracy.py``'s
``reference`` then ``teacher_wsddn``, each fold its own data root of
symlinks and a subset annotation file), and that teacher computes the soft
targets of the fold it never saw. The K files are merged into one soft-target
file covering every training scene, and the student (``--experiment``,
default ``kd_pred_cached_noflip``) trains on it with the whole training set,
as ``accuracy.py`` trains it on the usual teacher's soft targets.

Steps and where they write (``W`` = ``--work-dir``, ``S`` = the seed)::

    W/data/fold{k}/train_on/   data root: every scene but fold k's
    W/data/fold{k}/held_out/   data root: fold k's scenes
    W/fold{k}/{reference,teacher_wsddn}/seedS/   the fold's runs
    W/fold{k}/held_out/seedS/<soft targets>.pkl  fold k's soft targets
    W/cross_fit/seedS/<soft targets>.pkl         the K files merged
    W/<experiment>/seedS/                         the student
    W/fold{k}/in_sample/seedS/, W/in_sample/      with --in-sample-control:
        fold k's teacher on fold k + 1 (scenes it trained on), merged, and
        the student on them (the same teachers without the cross-fitting)
    W/cross_fit_<experiment>_seedS.md             the summary table

Every step is skipped when its output exists (runs with ``done.json``), so
a killed run restarted with the same command continues. ``split`` and
``merge`` are also available alone.

Examples::

    # the benchmark's 10,000 scenes, 2 folds, seed 0 (CPU: about 1.5 h)
    python tools/analysis_tools/cross_fit_soft_targets.py run \\
        --data-root data/multidigits_large --work-dir work_dirs/cross_fit \\
        --folds 2 --seed 0 --student-epochs 60 --teacher-epochs 10
    python tools/analysis_tools/cross_fit_soft_targets.py split \\
        data/multidigits_large work_dirs/cross_fit/data --folds 2
    python tools/analysis_tools/cross_fit_soft_targets.py merge \\
        data/multidigits_large/annotations/instances_train.json OUT.pkl \\
        fold0.pkl fold1.pkl
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
from typing import List, Optional, Sequence

import numpy as np

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)  # the checkout's mmkdwsd, not a stale install
_ACCURACY = osp.join(_ROOT, 'tools', 'benchmarks', 'accuracy.py')
sys.path.insert(0, osp.dirname(_ACCURACY))

import accuracy  # noqa: E402

from mmkdwsd.datasets import soft_targets as soft  # noqa: E402
from mmkdwsd.utils import fileio  # noqa: E402

#: the links a fold's data root shares with the full data root
SHARED = ('train', 'val', 'proposals', 'annotations/instances_val.json')
#: meta fields that every fold's soft-target file must agree on
AGREE = ('num_classes', 'cls_temperature', 'det_temperature', 'views',
         'teacher_cfg', 'split')


def fold_of(num_images: int, folds: int) -> np.ndarray:
    """Fold of each image, round robin over the images sorted by id: every
    fold gets the same number of images, give or take one.

    Args:
        num_images (int): Number of images.
        folds (int): K, at least 2 and at most ``num_images``.

    Returns:
        np.ndarray: int64 (num_images,), values in [0, K).
    """
    if folds < 2 or folds > num_images:
        raise ValueError(f'--folds must be in [2, {num_images}] (the '
                         f'number of training images), got {folds}')
    return np.arange(num_images) % folds


def _subset(coco: dict, keep_ids: set) -> dict:
    out = {k: v for k, v in coco.items() if k not in ('images',
                                                      'annotations')}
    out['images'] = [im for im in coco['images'] if im['id'] in keep_ids]
    out['annotations'] = [
        a for a in coco.get('annotations', []) if a['image_id'] in keep_ids
    ]
    return out


def _link(src: str, dst: str) -> None:
    if osp.lexists(dst):
        if osp.realpath(dst) != osp.realpath(src):
            raise FileExistsError(
                f'{dst} exists and points to {osp.realpath(dst)}, not '
                f'{src}: remove it or use another output folder')
        return
    os.makedirs(osp.dirname(dst), exist_ok=True)
    os.symlink(osp.abspath(src), dst)


def split(data_root: str, out_root: str, folds: int) -> List[dict]:
    """Write the K pairs of fold data roots (see the module docstring).

    Args:
        data_root (str): The full data root (``annotations/instances_train
            .json``, ``train/``, ``val/``, ``proposals/``).
        out_root (str): Folder of the fold data roots.
        folds (int): K.

    Returns:
        list[dict]: Per fold ``train_on`` and ``held_out`` (data roots) and
        their image counts.
    """
    ann_file = osp.join(data_root, 'annotations', 'instances_train.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'{ann_file} not found: --data-root must hold the training '
            'annotations (tools/generate_multidigits.py writes them)')
    with open(ann_file) as f:
        coco = json.load(f)
    if not isinstance(coco, dict) or not isinstance(coco.get('images'),
                                                    list):
        raise ValueError(f'{ann_file} is not a COCO instances file (no '
                         "'images' list)")
    for name in SHARED:
        if not osp.exists(osp.join(data_root, name)):
            raise FileNotFoundError(
                f'{osp.join(data_root, name)} not found: a fold data root '
                'links it from the full one')
    ids = sorted(im['id'] for im in coco['images'])
    assign = fold_of(len(ids), folds)
    result = []
    for k in range(folds):
        held = {i for i, a in zip(ids, assign) if a == k}
        info = dict(fold=k)
        parts = (('train_on', set(ids) - held), ('held_out', held))
        for part, keep in parts:
            root = osp.join(out_root, f'fold{k}', part)
            for name in SHARED:
                _link(osp.join(data_root, name), osp.join(root, name))
            out = osp.join(root, 'annotations', 'instances_train.json')
            subset = _subset(coco, keep)
            if osp.isfile(out):
                with open(out) as f:
                    old = {im['id'] for im in json.load(f)['images']}
                if old != keep:
                    raise FileExistsError(
                        f'{out} holds another split of the images (other '
                        '--folds or data root?): use another output folder')
            else:
                fileio.atomic_dump_json(subset, out)
            info[part] = root
            info[f'{part}_images'] = len(subset['images'])
        result.append(info)
    return result


def merge(ann_file: str,
          out: str,
          files: Sequence[str],
          img_folder: str = 'train') -> dict:
    """Merge per-fold soft-target files into one covering a split.

    Args:
        ann_file (str): The split's COCO instances file (every image must
            get soft targets from exactly one file).
        out (str): Output pickle (written atomically).
        files (Sequence[str]): The folds' soft-target files.
        img_folder (str): The split's image folder (the files key an image
            by ``'<folder>/<file name>'``). Defaults to 'train'.

    Returns:
        dict: The merged ``dict(meta, targets)``; ``meta`` is the folds'
        (which must agree on classes, temperatures and views) with
        ``teacher_ckpt`` the list of the folds' and ``cross_fit`` naming
        the files.
    """
    with open(ann_file) as f:
        coco = json.load(f)
    wanted = {
        soft.soft_target_key(osp.join(img_folder, im['file_name']))
        for im in coco['images']
    }
    targets, sources, ckpts, meta = {}, {}, [], None
    for path in files:
        content = soft.load_soft_target_file(path)
        if meta is None:
            meta = dict(content['meta'])
        for key in AGREE:
            if content['meta'].get(key) != meta.get(key):
                raise soft.SoftTargetError(
                    f'Soft-target file {path} has meta {key}='
                    f'{content["meta"].get(key)!r}, but {files[0]} has '
                    f'{meta.get(key)!r}: the folds must be cached with one '
                    'config')
        ckpts.append(content['meta'].get('teacher_ckpt'))
        for key, value in content['targets'].items():
            if key in sources:
                raise soft.SoftTargetError(
                    f'Image {key!r} has soft targets in both {sources[key]} '
                    f'and {path}: folds must not overlap')
            sources[key] = path
            targets[key] = value
    missing = sorted(wanted - set(targets))
    if missing:
        raise soft.SoftTargetError(
            f'{len(missing)} image(s) of {ann_file} have soft targets in '
            f'none of the files (first: {missing[0]!r}): was a fold not '
            'cached?')
    extra = sorted(set(targets) - wanted)
    if extra:
        raise soft.SoftTargetError(
            f'{len(extra)} image(s) of the files are not in {ann_file} '
            f'(first: {extra[0]!r}): files of another split?')
    meta['teacher_ckpt'] = ckpts
    meta['cross_fit'] = dict(folds=len(files), files=list(files))
    merged = dict(meta=meta, targets=targets)
    fileio.atomic_dump_pickle(merged, out)
    return merged


# ------------------------------------------------------------------- run
def _accuracy(args, extra: List[str]) -> None:
    cmd = [sys.executable, _ACCURACY, '--seed', str(args.seed),
           '--proposal-method', args.proposal_method] + extra
    for flag in ('student_epochs', 'teacher_epochs', 'workers'):
        if getattr(args, flag) is not None:
            cmd += ['--' + flag.replace('_', '-'), str(getattr(args, flag))]
    if args.tiny:
        cmd.append('--tiny')
    if args.amp:
        cmd.append('--amp')
    print('+ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=_ROOT)


def _acc_args(args, data_root: str, work_dir: str) -> argparse.Namespace:
    """``accuracy.py``'s arguments for in-process calls."""
    argv = ['--seed', str(args.seed), '--data-root', data_root,
            '--work-dir', work_dir, '--proposal-method', args.proposal_method]
    if args.workers is not None:
        argv += ['--workers', str(args.workers)]
    return accuracy.parse_args(argv + (['--tiny'] if args.tiny else []))


def _teacher_link(folder: str, ckpt: str) -> str:
    """``folder/teacher.pth`` -> ``ckpt``: the soft targets of a teacher
    are cached next to its checkpoint, so each set gets a folder of its
    own."""
    link = osp.join(folder, 'teacher.pth')
    _link(ckpt, link)
    return link


def _metrics(work_dir: str, name: str, seed: int) -> dict:
    done = accuracy.read_done(osp.join(work_dir, name, f'seed{seed}'))
    return accuracy.pick(done['metrics'], accuracy.EXPERIMENTS[name][1])


def _cache(args, fold_dir: str, data_root: str, folder: str) -> str:
    """Cache the soft targets of ``data_root``'s training scenes by the
    teacher of ``fold_dir`` in ``folder``; return the file."""
    acc_args = _acc_args(args, data_root, fold_dir)
    ckpt = accuracy.finished_checkpoint(acc_args, 'teacher_wsddn', args.seed)
    acc_args.teacher_ckpt = _teacher_link(folder, ckpt)
    # build_cfg caches the soft targets next to the teacher (the link)
    cfg = accuracy.build_cfg(acc_args, args.experiment, args.seed,
                             osp.join(folder, 'unused_run'))
    return osp.join(folder, accuracy.soft_target_name(cfg))


def _student(args, name: str, files: List[str]):
    """Merge ``files`` into ``W/name/seedS`` and train the student on them
    (in ``W`` for the cross-fitted targets, else in ``W/name``); return
    the merged file and the student's metrics."""
    merged_dir = osp.join(args.work_dir, name, f'seed{args.seed}')
    merged = osp.join(merged_dir, osp.basename(files[0]))
    if not osp.isfile(merged):
        merge(
            osp.join(args.data_root, 'annotations', 'instances_train.json'),
            merged, files)
    # the distiller still builds a teacher; fold 0's stands in (cached soft
    # targets do not run it)
    teacher = _teacher_link(merged_dir,
                            osp.join(osp.dirname(files[0]), 'teacher.pth'))
    work_dir = args.work_dir if name == 'cross_fit' else osp.join(
        args.work_dir, name)
    _accuracy(args, ['--only', args.experiment, '--data-root',
                     args.data_root, '--work-dir', work_dir,
                     '--teacher-ckpt', teacher])
    return merged, _metrics(work_dir, args.experiment, args.seed)


def run(args) -> str:
    """The whole chain for one seed (see the module docstring); returns
    the summary table."""
    for key in ('data_root', 'work_dir'):
        setattr(args, key, osp.abspath(getattr(args, key)))
    spec = accuracy.EXPERIMENTS.get(args.experiment)
    if spec is None or len(spec) > 3 or 'cached' not in args.experiment:
        raise ValueError(
            f'--experiment {args.experiment!r}: expected an accuracy.py '
            'experiment on cached soft targets that starts from scratch '
            '(e.g. kd_pred_cached_noflip, kd_pred_cached_t1_noflip)')
    from mmkdwsd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    # the data, its proposals and decoded images (made on first use)
    _accuracy(args, ['--prepare-only', '--data-root', args.data_root,
                     '--work-dir', args.work_dir])
    folds = split(args.data_root, osp.join(args.work_dir, 'data'),
                  args.folds)
    held_files, in_files, rows = [], [], []
    for info in folds:
        k = info['fold']
        fold_dir = osp.join(args.work_dir, f'fold{k}')
        print(f'[fold {k}/{args.folds}] reference and teacher on '
              f'{info["train_on_images"]} scenes, soft targets of the '
              f'{info["held_out_images"]} held out', flush=True)
        _accuracy(args, ['--only', 'reference', 'teacher_wsddn',
                         '--data-root', info['train_on'], '--work-dir',
                         fold_dir])
        held_files.append(
            _cache(args, fold_dir, info['held_out'],
                   osp.join(fold_dir, 'held_out', f'seed{args.seed}')))
        if args.in_sample_control:
            # the next fold, which this fold's teacher trained on
            seen = folds[(k + 1) % len(folds)]['held_out']
            in_files.append(
                _cache(args, fold_dir, seen,
                       osp.join(fold_dir, 'in_sample', f'seed{args.seed}')))
        rows.append((k, info['train_on_images'], info['held_out_images'],
                     _metrics(fold_dir, 'reference', args.seed),
                     _metrics(fold_dir, 'teacher_wsddn', args.seed)))
    students = [('cross-fitted (each scene by the teacher that never saw '
                 'it)', *_student(args, 'cross_fit', held_files))]
    if args.in_sample_control:
        what = ('in-sample control (each scene by a fold teacher that '
                'trained on it)')
        students.append((what, *_student(args, 'in_sample', in_files)))
    lines = [
        f'Cross-fitted soft targets, seed {args.seed}, {args.folds} folds '
        f'({args.data_root}, {args.proposal_method} proposals)', '',
        '| fold | train scenes | held-out scenes | reference mAP (val) | '
        'teacher image mAP (val) | teacher CorLoc |',
        '|---|---|---|---|---|---|'
    ]
    for k, n_on, n_held, ref, tea in rows:
        lines.append(f'| {k} | {n_on} | {n_held} | {ref.get("mAP", 0):.1f} '
                     f'| {tea.get("mAP", 0):.1f} | '
                     f'{tea.get("CorLoc", 0):.1f} |')
    lines += ['', f'| student `{args.experiment}` on soft targets | file | '
              'mAP | CF1 | OF1 |', '|---|---|---|---|---|']
    for what, merged, metrics in students:
        lines.append(f'| {what} | {merged} | {metrics.get("mAP", 0):.1f} | '
                     f'{metrics.get("CF1", 0):.1f} | '
                     f'{metrics.get("OF1", 0):.1f} |')
    table = '\n'.join(lines) + '\n'
    summary = osp.join(args.work_dir,
                       f'cross_fit_{args.experiment}_seed{args.seed}.md')
    with open(summary, 'w') as f:
        f.write(table)
    print(table, flush=True)
    return table


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('split', help='write the fold data roots')
    p.add_argument('data_root')
    p.add_argument('out_root')
    p.add_argument('--folds', type=int, default=2)
    p = sub.add_parser('merge', help='merge per-fold soft-target files')
    p.add_argument('ann_file', help='the split\'s COCO instances file')
    p.add_argument('out', help='merged soft-target pickle')
    p.add_argument('files', nargs='+', help='the folds\' soft targets')
    p.add_argument('--img-folder', default='train',
                   help='the split\'s image folder (default: train)')
    p = sub.add_parser('run', help='the whole chain for one seed')
    p.add_argument('--data-root', default='data/multidigits_large')
    p.add_argument('--work-dir', default='work_dirs/benchmarks/cross_fit')
    p.add_argument('--folds', type=int, default=2)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--experiment', default='kd_pred_cached_noflip',
                   help='accuracy.py experiment of the student (one on '
                   'cached soft targets)')
    p.add_argument('--proposal-method', default='windows',
                   choices=['windows', 'ss', 'edgeboxes'])
    p.add_argument('--student-epochs', type=int)
    p.add_argument('--teacher-epochs', type=int)
    p.add_argument('--workers', type=int)
    p.add_argument('--amp', action='store_true')
    p.add_argument(
        '--in-sample-control',
        action='store_true',
        help='also train the student on the same fold teachers\' soft '
        'targets of the scenes they trained on (W/in_sample): the same '
        'teachers, without the cross-fitting')
    p.add_argument('--tiny', action='store_true',
                   help='accuracy.py --tiny: 1 epoch, batch 4 (smoke test)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if args.command == 'split':
        for info in split(args.data_root, args.out_root, args.folds):
            print(f'fold {info["fold"]}: {info["train_on"]} '
                  f'({info["train_on_images"]} images), '
                  f'{info["held_out"]} ({info["held_out_images"]})')
    elif args.command == 'merge':
        merged = merge(args.ann_file, args.out, args.files, args.img_folder)
        print(f'{len(merged["targets"])} images -> {args.out}')
    else:
        run(args)


if __name__ == '__main__':
    main()
