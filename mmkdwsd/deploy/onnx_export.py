# Copyright (c) mmkdwsd authors. All rights reserved.
"""Export the standalone student to ONNX through mmdeploy and check it.

The student exported by ``tools/export_student.py`` is a plain
``mmpretrain.ImageClassifier``. mmdeploy 1.3.1 converts it with its
``mmpretrain``/``Classification`` task; three things need care on the
project's stack (torch 2.14, mmdeploy 1.3.1):

- torch >= 2.9 defaults ``torch.onnx.export`` to the dynamo exporter, which
  skips mmdeploy's rewriters (the sigmoid below among them) and needs
  onnxscript: the export runs inside
  :func:`mmkdwsd.compat.torchscript_onnx_exporter`.
- mmdeploy's ``Classification.build_backend_model`` reads a *top-level*
  ``data_preprocessor`` from the model config; the exported student keeps it
  in ``model.data_preprocessor``, so :func:`prepare_model_cfg` copies it up.
- mmdeploy appends the sigmoid only when the head subclasses mmpretrain's
  ``MultiLabelClsHead``; :func:`check_multilabel_head` refuses other heads
  and :func:`check_onnx_parity` checks the graph ends in a ``Sigmoid``.

Nothing here is imported by ``mmkdwsd/__init__.py``: mmdeploy stays an
optional dependency.
"""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config

from mmkdwsd.compat import torchscript_onnx_exporter
from mmkdwsd.utils import mim_path, unwrap_preprocessor_cfg

_DEPLOY_CFG_NAME = osp.join('deploy', 'classification_onnxruntime_dynamic.py')
_PKG_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _default_deploy_cfg() -> str:
    """The shipped deploy config: in a source checkout's ``configs/``, or
    in ``mmkdwsd/.mim/configs/`` of a regular install."""
    candidates = [
        osp.join(osp.dirname(_PKG_DIR), 'configs', _DEPLOY_CFG_NAME),
        mim_path('configs', _DEPLOY_CFG_NAME)
    ]
    return next((c for c in candidates if osp.isfile(c)), candidates[0])


DEFAULT_DEPLOY_CFG = _default_deploy_cfg()


class OnnxParityError(AssertionError):
    """The ONNX model's outputs differ from PyTorch's beyond the tolerance."""


def prepare_model_cfg(model_cfg: Union[str, Config]) -> Config:
    """Make a standalone student config fit mmdeploy's Classification task.

    Args:
        model_cfg (str | Config): The exported student config.

    Returns:
        Config: A copy with ``default_scope``, a top-level
        ``data_preprocessor`` and a checked ``test_pipeline``.
    """
    cfg = Config.fromfile(model_cfg) if isinstance(model_cfg,
                                                   str) else model_cfg
    cfg = copy.deepcopy(cfg)
    if cfg.get('test_pipeline') is None:
        raise KeyError('the student config has no top-level `test_pipeline`, '
                       'which mmdeploy needs; export the student with '
                       'tools/export_student.py')
    # mmdeploy's task processor opens a DefaultScope named after this key;
    # a missing key would become the scope 'None'.
    cfg.setdefault('default_scope', 'mmpretrain')
    if cfg.model.get('data_preprocessor') is not None:
        # the fast data path's wrapper serves training only
        cfg.model.data_preprocessor = unwrap_preprocessor_cfg(
            cfg.model.data_preprocessor)
    if cfg.get('data_preprocessor') is None:
        preprocessor = cfg.model.get('data_preprocessor') or dict()
        cfg.data_preprocessor = copy.deepcopy(preprocessor)
    return cfg


def check_multilabel_head(model: torch.nn.Module) -> None:
    """Refuse a head for which mmdeploy would add a softmax.

    Args:
        model (nn.Module): The built PyTorch classifier.
    """
    from mmpretrain.models.heads import MultiLabelClsHead
    head = getattr(model, 'head', None)
    if not isinstance(head, MultiLabelClsHead):
        raise TypeError(
            f'the student head {type(head).__name__} does not subclass '
            'mmpretrain MultiLabelClsHead: mmdeploy would end the graph with '
            'a softmax instead of the multi-label sigmoid')


def export_onnx(model_cfg: Config,
                checkpoint: str,
                img: Union[str, np.ndarray],
                work_dir: str,
                deploy_cfg: Union[str, Config] = DEFAULT_DEPLOY_CFG,
                device: str = 'cpu') -> str:
    """Convert the student with mmdeploy's ``torch2onnx``.

    Args:
        model_cfg (Config): Output of :func:`prepare_model_cfg`.
        checkpoint (str): The student checkpoint.
        img (str | np.ndarray): The image that traces the model.
        work_dir (str): Output folder.
        deploy_cfg (str | Config): The mmdeploy deploy config.
        device (str): Device of the PyTorch model. Defaults to 'cpu'.

    Returns:
        str: Path of the ONNX file.
    """
    from mmdeploy.apis import torch2onnx
    from mmdeploy.utils import get_onnx_config, load_config
    deploy_cfg = load_config(deploy_cfg)[0]
    save_file = get_onnx_config(deploy_cfg)['save_file']
    with torchscript_onnx_exporter():
        torch2onnx(img, work_dir, save_file, deploy_cfg, model_cfg, checkpoint,
                   device)
    onnx_file = osp.join(work_dir, save_file)
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'mmdeploy wrote no ONNX file {onnx_file}')
    return onnx_file


def build_models(
        model_cfg: Config,
        checkpoint: str,
        onnx_file: str,
        deploy_cfg: Union[str, Config] = DEFAULT_DEPLOY_CFG,
        device: str = 'cpu'
) -> Tuple[object, torch.nn.Module, torch.nn.Module]:
    """The task processor, the PyTorch model and mmdeploy's backend model.

    Args:
        model_cfg (Config): Output of :func:`prepare_model_cfg`.
        checkpoint (str): The student checkpoint.
        onnx_file (str): The exported model.
        deploy_cfg (str | Config): The mmdeploy deploy config.
        device (str): Device. Defaults to 'cpu'.

    Returns:
        tuple: ``(task_processor, torch_model, backend_model)``; the backend
        model is mmdeploy's ``End2EndModel`` on ONNX Runtime.
    """
    from mmdeploy.apis import build_task_processor
    from mmdeploy.utils import load_config
    deploy_cfg, model_cfg = load_config(deploy_cfg, model_cfg)
    task = build_task_processor(model_cfg, deploy_cfg, device)
    torch_model = task.build_pytorch_model(checkpoint)
    check_multilabel_head(torch_model)
    backend_model = task.build_backend_model([onnx_file],
                                             task.update_data_preprocessor)
    return task, torch_model, backend_model


def make_batch(task,
               img: Union[str, np.ndarray],
               torch_model: torch.nn.Module,
               batch_size: int,
               seed: int = 0) -> torch.Tensor:
    """A preprocessed batch: the image, its mirror, then random images.

    Distinct samples in one batch also exercise the dynamic batch axis.

    Args:
        task: mmdeploy's task processor.
        img (str | np.ndarray): The image.
        torch_model (nn.Module): Supplies the data preprocessor.
        batch_size (int): Number of samples (>= 1).
        seed (int): Seed of the random samples. Defaults to 0.

    Returns:
        Tensor: ``(batch_size, 3, H, W)`` float network inputs.
    """
    _, x = task.create_input(
        img, data_preprocessor=torch_model.data_preprocessor)
    x = x[:1]
    gen = torch.Generator().manual_seed(seed)
    samples = [x, x.flip(-1)]
    while len(samples) < batch_size:
        samples.append(torch.randn(x.shape, generator=gen).to(x))
    return torch.cat(samples[:batch_size])


def onnx_ends_with_sigmoid(onnx_file: str, output_name: str) -> bool:
    """Whether the ONNX graph's output comes from a ``Sigmoid`` node."""
    import onnx
    graph = onnx.load(onnx_file, load_external_data=False).graph
    return any(node.op_type == 'Sigmoid' and output_name in node.output
               for node in graph.node)


def check_onnx_parity(torch_model: torch.nn.Module,
                      backend_model: torch.nn.Module,
                      inputs: torch.Tensor,
                      onnx_file: str,
                      atol: float = 1e-4) -> float:
    """Compare class probabilities of PyTorch and ONNX Runtime.

    Like with like: PyTorch's ``predict`` scores (sigmoid of the head's
    logits, as mmpretrain's ``MultiLabelClsHead`` computes them) against
    the ONNX output, which mmdeploy ends with a sigmoid.

    Args:
        torch_model (nn.Module): The PyTorch student (eval mode).
        backend_model (nn.Module): mmdeploy's ``End2EndModel``.
        inputs (Tensor): Preprocessed inputs, ``(N, 3, H, W)``.
        onnx_file (str): The ONNX file (checked for the final sigmoid).
        atol (float): Largest allowed absolute difference.

    Returns:
        float: The max absolute difference.
    """
    output_name = backend_model.output_names[0]
    if not onnx_ends_with_sigmoid(onnx_file, output_name):
        raise OnnxParityError(
            f'{onnx_file}: output "{output_name}" is not produced by a '
            'Sigmoid; mmdeploy did not apply its multi-label rewrite (was '
            'the dynamo exporter used?)')
    with torch.no_grad():
        samples = torch_model(inputs, mode='predict')
        expected = torch.stack([s.pred_score for s in samples]).cpu()
        got = backend_model.wrapper({backend_model.input_name:
                                     inputs})[output_name].cpu()
    if got.shape != expected.shape:
        raise OnnxParityError(
            f'ONNX output shape {tuple(got.shape)} != PyTorch '
            f'{tuple(expected.shape)} for a batch of {len(inputs)}')
    max_diff = (got - expected).abs().max().item()
    if not max_diff <= atol:  # also catches NaN
        raise OnnxParityError(
            f'ONNX and PyTorch scores differ by {max_diff:.3g} (max abs), '
            f'above the tolerance {atol:g}')
    return max_diff


def onnx_inference(model_cfg: Config,
                   onnx_file: str,
                   img: Union[str, np.ndarray],
                   deploy_cfg: Union[str, Config] = DEFAULT_DEPLOY_CFG,
                   device: str = 'cpu') -> List:
    """Run the ONNX model on an image through mmdeploy's inference API.

    Args:
        model_cfg (Config): Output of :func:`prepare_model_cfg`.
        onnx_file (str): The exported model.
        img (str | np.ndarray): The image.
        deploy_cfg (str | Config): The mmdeploy deploy config.
        device (str): Device. Defaults to 'cpu'.

    Returns:
        list[DataSample]: mmpretrain samples with ``pred_score`` and
        ``pred_label``.
    """
    from mmdeploy.apis import inference_model
    return inference_model(model_cfg, deploy_cfg, [onnx_file], img, device)


def format_prediction(sample,
                      classes: Optional[Sequence[str]] = None,
                      thr: Optional[float] = None) -> List[Tuple[str, float]]:
    """``[(class name, score), ...]`` of the predicted labels, best first.

    Args:
        sample (DataSample): With ``pred_score`` (and ``pred_label``).
        classes (Sequence[str], optional): Class names; indices otherwise.
        thr (float, optional): Keep scores >= thr instead of ``pred_label``.

    Returns:
        list[tuple[str, float]]: Names and scores.
    """
    scores = sample.pred_score.detach().cpu().float()
    if thr is not None:
        labels = torch.nonzero(scores >= thr).flatten().tolist()
    else:
        labels = sample.pred_label.detach().cpu().flatten().tolist()
    labels.sort(key=lambda i: -float(scores[i]))

    def name(i):
        return str(
            classes[i]) if classes is not None and i < len(classes) else str(i)

    return [(name(i), float(scores[i])) for i in labels]


def load_class_names(model_cfg: Config,
                     checkpoint: Optional[str] = None) -> Optional[List[str]]:
    """Class names from the checkpoint's ``meta`` or the config.

    Looks at ``meta.dataset_meta.classes`` of the checkpoint (written by
    MMEngine runners and by ``tools/export_student.py``), then at
    ``test_dataloader.dataset.metainfo.classes`` of the config.

    Args:
        model_cfg (Config): The student config.
        checkpoint (str, optional): The student checkpoint.

    Returns:
        list[str] | None: The names, or None if neither has them.
    """
    if checkpoint is not None and osp.isfile(checkpoint):
        try:  # exported students load safely; runner checkpoints do not
            ckpt = torch.load(
                checkpoint, map_location='cpu', weights_only=True)
        except Exception:
            ckpt = torch.load(
                checkpoint, map_location='cpu', weights_only=False)
        classes = ckpt.get('meta', {}).get('dataset_meta', {}).get('classes')
        if classes:
            return [str(c) for c in classes]
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        metainfo = (model_cfg.get(loader) or {}).get('dataset',
                                                     {}).get('metainfo') or {}
        if metainfo.get('classes'):
            return [str(c) for c in metainfo['classes']]
    return None
