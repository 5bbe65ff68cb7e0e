# Copyright (c) mmkdwsd authors. All rights reserved.
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register all modules of mmkdwsd (and of mmdet / mmpretrain) into the
    registries.

    Args:
        init_default_scope (bool): Whether to set the default scope to
            ``'mmkdwsd'``, so that unscoped types in configs resolve in
            mmkdwsd first. Defaults to True.
    """
    import mmdet.datasets  # noqa: F401,F811
    import mmdet.evaluation  # noqa: F401,F811
    import mmdet.models  # noqa: F401,F811
    import mmpretrain.datasets  # noqa: F401,F811
    import mmpretrain.evaluation  # noqa: F401,F811
    import mmpretrain.models  # noqa: F401,F811

    import mmkdwsd.datasets  # noqa: F401,F811
    import mmkdwsd.engine  # noqa: F401,F811
    import mmkdwsd.evaluation  # noqa: F401,F811
    import mmkdwsd.models  # noqa: F401,F811
    import mmkdwsd.visualization  # noqa: F401,F811

    if not init_default_scope:
        return
    never_created = DefaultScope.get_current_instance() is None \
        or not DefaultScope.check_instance_created('mmkdwsd')
    if never_created:
        DefaultScope.get_instance('mmkdwsd', scope_name='mmkdwsd')
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope.scope_name != 'mmkdwsd':
        warnings.warn('The current default scope '
                      f'"{current_scope.scope_name}" is not "mmkdwsd", '
                      '`register_all_modules` will force the current'
                      'default scope to be "mmkdwsd". If this is not '
                      'expected, please set `init_default_scope=False`.')
        # avoid name conflict
        new_instance_name = f'mmkdwsd-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name='mmkdwsd')
