# Copyright (c) mmkdwsd authors. All rights reserved.
"""Graft part of one checkpoint's weights onto another's.

An analysis for issue 8 (docs/benchmarks.md, "What stage 1 hands to
stage 2"), not part of the method. Stage 1 of the staged recipe trains
only the student's stem and the layer it pools the teacher's regions
from; the rest of the student (the later layers, the neck and the head)
leaves stage 1 as its initialisation drew it, and stage 2 starts from
both. Grafting the trained part of one stage-1 checkpoint onto another
stage-1 checkpoint's untrained rest separates the two.

The output holds ``BASE``'s ``state_dict`` with every key under each
``--parts`` prefix (the key itself, or the key followed by ``.``) taken
from ``DONOR``, and ``BASE``'s ``meta``; nothing else (no optimizer
state), which is all that a ``Pretrained`` initialisation reads.

    python tools/analysis_tools/graft_checkpoint.py \\
        stage1_seed21/epoch_15.pth stage1_seed22/epoch_15.pth \\
        --parts student.backbone.conv1 student.backbone.bn1 \\
        student.backbone.layer1 --out grafted.pth
"""
import argparse
import io
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, _ROOT)

import torch  # noqa: E402
from mmengine.runner.checkpoint import _load_checkpoint  # noqa: E402

from mmkdwsd.utils import atomic_write_bytes  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Graft part of DONOR\'s weights onto BASE\'s')
    parser.add_argument('base', help='checkpoint giving every other key')
    parser.add_argument('donor', help='checkpoint giving the --parts keys')
    parser.add_argument(
        '--parts',
        nargs='+',
        required=True,
        help='state_dict key prefixes (module names) to take from DONOR')
    parser.add_argument('--out', required=True, help='checkpoint to write')
    return parser.parse_args(argv)


def in_parts(key: str, parts: Sequence[str]) -> bool:
    """Whether ``key`` is one of ``parts`` or a key of one of them."""
    return any(key == part or key.startswith(part + '.') for part in parts)


def load_state(path: str) -> dict:
    """A checkpoint's dict with its ``state_dict``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` holds no ``state_dict`` of tensors.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'no checkpoint {path}')
    ckpt = _load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict') if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{path} holds no state_dict of tensors: expected '
                         'a tools/train.py checkpoint')
    return ckpt


def graft(base: Dict[str, torch.Tensor], donor: Dict[str, torch.Tensor],
          parts: Sequence[str], base_name: str = 'BASE',
          donor_name: str = 'DONOR') -> Dict[str, torch.Tensor]:
    """``base`` with its keys under ``parts`` replaced by ``donor``'s.

    Args:
        base (dict[str, Tensor]): State dict giving every other key.
        donor (dict[str, Tensor]): State dict giving the ``parts`` keys.
        parts (Sequence[str]): Key prefixes (module names).
        base_name (str): ``base``'s name in errors (its file).
        donor_name (str): ``donor``'s name in errors.

    Returns:
        dict[str, Tensor]: The grafted state dict, ``base``'s keys in
        ``base``'s order.

    Raises:
        ValueError: A part matches no key of ``base``; the two differ in
            the keys under the parts (names them), or in a shape there.
    """
    empty = [p for p in parts if not any(in_parts(k, [p]) for k in base)]
    if empty:
        modules = sorted({'.'.join(k.split('.')[:-1][:3]) for k in base})
        raise ValueError(f'--parts {" ".join(empty)} match no key of '
                         f'{base_name} (its modules include '
                         f'{", ".join(modules[:12])})')
    mine = [k for k in base if in_parts(k, parts)]
    theirs = [k for k in donor if in_parts(k, parts)]
    only_base = sorted(set(mine) - set(theirs))
    only_donor = sorted(set(theirs) - set(mine))
    if only_base or only_donor:
        raise ValueError(
            f'{base_name} and {donor_name} differ in the keys under '
            f'--parts: only in {base_name}: {only_base[:5]}, only in '
            f'{donor_name}: {only_donor[:5]}')
    wrong: List[str] = [
        f'{k} {tuple(donor[k].shape)} (in {base_name}: '
        f'{tuple(base[k].shape)})' for k in mine
        if donor[k].shape != base[k].shape
    ]
    if wrong:
        raise ValueError(f'{donor_name} has other shapes: '
                         f'{", ".join(wrong[:5])}')
    return {k: donor[k] if in_parts(k, parts) else v for k, v in base.items()}


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    base, donor = load_state(args.base), load_state(args.donor)
    state = graft(base['state_dict'], donor['state_dict'], args.parts,
                  args.base, args.donor)
    buffer = io.BytesIO()
    torch.save(dict(meta=base.get('meta', {}), state_dict=state), buffer)
    atomic_write_bytes(args.out, buffer.getvalue())
    taken = sum(in_parts(k, args.parts) for k in state)
    print(f'{args.out}: {taken} of {len(state)} tensors from {args.donor}, '
          f'the rest from {args.base}')


if __name__ == '__main__':
    main()
