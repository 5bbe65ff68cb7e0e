# Copyright (c) mmkdwsd authors. All rights reserved.
from mmengine.model import BaseDataPreprocessor


class NestedDataPreprocessor(BaseDataPreprocessor):
    """Base of preprocessors that hold other preprocessors.

    MMEngine's ``BaseDataPreprocessor.to()/cuda()/cpu()`` set the device of
    the module they are called on only; the nested preprocessors would keep
    casting to the old device. These overrides pass the device down.
    """

    def _sync_device(self) -> 'NestedDataPreprocessor':
        for module in self.modules():
            if isinstance(module, BaseDataPreprocessor):
                module._device = self._device
        return self

    def to(self, *args, **kwargs) -> 'NestedDataPreprocessor':
        """Move to a device, the nested preprocessors included."""
        super().to(*args, **kwargs)
        return self._sync_device()

    def cuda(self, *args, **kwargs) -> 'NestedDataPreprocessor':
        """Move to the current GPU, the nested preprocessors included."""
        super().cuda(*args, **kwargs)
        return self._sync_device()

    def cpu(self, *args, **kwargs) -> 'NestedDataPreprocessor':
        """Move to the CPU, the nested preprocessors included."""
        super().cpu(*args, **kwargs)
        return self._sync_device()
