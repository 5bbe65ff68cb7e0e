# Copyright (c) mmkdwsd authors. All rights reserved.
import pytest
from mmengine.registry import DefaultScope

import mmkdwsd
from mmkdwsd.registry import DATASETS, METRICS, MODELS, TRANSFORMS


def test_version():
    assert isinstance(mmkdwsd.__version__, str)
    assert mmkdwsd.version_info[:2] == tuple(
        int(x) for x in mmkdwsd.__version__.split('.')[:2])


def test_default_scope_is_mmkdwsd():
    assert DefaultScope.get_current_instance().scope_name == 'mmkdwsd'
    assert MODELS.scope == 'mmkdwsd'


@pytest.mark.parametrize('registry,name,module', [
    (MODELS, 'mmdet.SingleRoIExtractor', 'mmdet'),
    (MODELS, 'mmpretrain.ResNet', 'mmpretrain'),
    (MODELS, 'mmpretrain.MultiLabelLinearClsHead', 'mmpretrain'),
    (TRANSFORMS, 'mmdet.LoadProposals', 'mmdet'),
    (TRANSFORMS, 'mmpretrain.PackInputs', 'mmpretrain'),
    (METRICS, 'mmpretrain.AveragePrecision', 'mmpretrain'),
])
def test_host_types_resolve_through_scope(registry, name, module):
    cls = registry.get(name)
    assert cls is not None, name
    assert cls.__module__.startswith(module)


def test_host_model_builds_under_mmkdwsd_scope():
    from tests.toy_runner import TOY_MODEL
    model = MODELS.build(TOY_MODEL)
    assert type(model).__name__ == 'ImageClassifier'


def test_own_types_are_registered():
    # each part of the package registers its public classes in our scope
    own = set(MODELS.module_dict) | set(DATASETS.module_dict) | set(
        METRICS.module_dict) | set(TRANSFORMS.module_dict)
    for name in ('WSDDN', 'KDWSDDistiller', 'CocoMultiLabelDataset',
                 'MultiLabelPaperMetric', 'PackWSODInputs'):
        assert name in own, name


def test_unknown_type_error_names_it():
    with pytest.raises(KeyError, match='NoSuchModel'):
        MODELS.build(dict(type='NoSuchModel'))
