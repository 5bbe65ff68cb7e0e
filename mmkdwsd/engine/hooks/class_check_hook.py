# Copyright (c) mmkdwsd authors. All rights reserved.
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmkdwsd.registry import HOOKS
from mmkdwsd.utils import model_num_classes


@HOOKS.register_module()
class ClassCheckHook(Hook):
    """Refuse to train when the dataset's classes and the model's disagree.

    Runs before the first iteration. A distiller checks its teacher, student
    and the dataset itself (``check_dataset_classes``); any other model is
    compared through the first positive ``num_classes`` of its modules (a
    backbone's ``-1`` means "no classifier").
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        classes = getattr(dataset, 'metainfo', {}).get('classes')
        if not classes:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if hasattr(model, 'check_dataset_classes'):
            model.check_dataset_classes(classes)
            return
        num_classes = model_num_classes(model)
        if num_classes is not None and num_classes != len(classes):
            source = getattr(dataset, 'ann_file', type(dataset).__name__)
            raise ValueError(
                f'the training data ({source}) has {len(classes)} classes '
                f'but the model ({type(model).__name__}) predicts '
                f'{num_classes}: set num_classes to {len(classes)} in the '
                'model config, or use the data the model was built for')
