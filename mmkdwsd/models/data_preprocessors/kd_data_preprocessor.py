# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Dict, Optional

from mmdet.utils import ConfigType

from mmkdwsd.registry import MODELS
from .nested import NestedDataPreprocessor


@MODELS.register_module()
class KDDataPreprocessor(NestedDataPreprocessor):
    """Two preprocessors for the two views of a distillation batch.

    mmdet's ``MultiBranch`` transform packs one dataset item into a teacher
    view (a ``DetDataSample`` with proposals, for the detector) and a student
    view (a ``DataSample`` with ``gt_label``, for the classifier). The default
    collate then gives ``inputs={'teacher': [...], 'student': [...]}`` and
    ``data_samples={'teacher': [...], 'student': [...]}``. Each branch is run
    through its own preprocessor (mmdet's ``MultiBranchDataPreprocessor``
    wraps only one).

    Args:
        teacher (dict): Config of the teacher branch's preprocessor, e.g.
            ``dict(type='mmdet.DetDataPreprocessor', ...)``.
        student (dict): Config of the student branch's preprocessor, e.g.
            ``dict(type='mmpretrain.ClsDataPreprocessor', ...)``.

    A batch with only some of the branches (e.g. a student-only test
    pipeline) is processed branch by branch; a batch that is not a dict of
    branches at all is handed to the student's preprocessor.

    .. code:: text

        forward(data): for branch in data['inputs']:
            self.<branch>(dict(inputs=..., data_samples=...), training)
    """

    branches = ('teacher', 'student')

    def __init__(self, teacher: ConfigType, student: ConfigType) -> None:
        super().__init__()
        self.teacher = MODELS.build(teacher)
        self.student = MODELS.build(student)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess each branch of a multi-branch batch.

        Args:
            data (dict): ``dict(inputs=dict(teacher=list[Tensor (3, H, W)],
                student=list[Tensor (3, h, w)]), data_samples=dict(...))``.
            training (bool): Whether training-time augmentation is on.

        Returns:
            dict: ``dict(inputs=dict(teacher=Tensor (N, 3, H', W'),
            student=Tensor (N, 3, h, w)), data_samples=dict(teacher=...,
            student=...))`` with the branches present in ``data``.
        """
        inputs = data['inputs']
        if not isinstance(inputs, dict):
            return self.student(data, training)
        unknown = set(inputs) - set(self.branches)
        if unknown:
            raise KeyError(f'KDDataPreprocessor: unknown branches '
                           f'{sorted(unknown)}; expected a subset of '
                           f'{list(self.branches)}')
        samples: Dict[str, Optional[list]] = data.get('data_samples') or {}
        out_inputs, out_samples = {}, {}
        for branch in self.branches:
            if inputs.get(branch) is None:
                continue
            processor = getattr(self, branch)
            result = processor(
                dict(inputs=inputs[branch], data_samples=samples.get(branch)),
                training)
            out_inputs[branch] = result['inputs']
            out_samples[branch] = result['data_samples']
        return dict(inputs=out_inputs, data_samples=out_samples)
