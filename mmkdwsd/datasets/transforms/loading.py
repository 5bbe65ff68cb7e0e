# Copyright (c) mmkdwsd authors. All rights reserved.
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log

from mmkdwsd.registry import TRANSFORMS


class ImageReadError(OSError):
    """An image file is missing, unreadable or corrupt."""


@TRANSFORMS.register_module()
class LoadImageSafe(LoadImageFromFile):
    """Load an image; name the file when it is missing or corrupt.

    mmcv's ``LoadImageFromFile`` fails with a bare assertion or decoder
    error on a corrupt file. This subclass raises :class:`ImageReadError`
    naming the file and the reason, or, with ``skip_bad=True``, logs a
    warning with the running count of skipped images (per process) and
    returns None. MMEngine's ``BaseDataset`` then draws another image during
    training; in test mode it refuses None, so skipping is a training-time
    switch only.

    Args:
        skip_bad (bool): Skip unreadable images instead of raising.
            Defaults to False.
        **kwargs: Passed to mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, skip_bad: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.skip_bad = skip_bad
        self.num_skipped = 0

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image at ``results['img_path']``.

        Args:
            results (dict): Result dict with ``img_path``.

        Returns:
            dict | None: Results with ``img`` (uint8 ``(H, W, 3)``),
            ``img_shape`` and ``ori_shape``; None for a skipped image.
        """
        path = results['img_path']
        try:
            out = super().transform(results)
        except Exception as e:  # mmcv raises assertion or decoder errors
            reason = 'file not found' if isinstance(
                e, FileNotFoundError) else f'{type(e).__name__}: {e}'
            return self._bad_image(path, reason)
        if out is None or out.get('img') is None or out['img'].size == 0:
            return self._bad_image(path, 'empty image')
        return out

    def _bad_image(self, path: str, reason: str) -> None:
        """Raise, or log and count when ``skip_bad``."""
        if not self.skip_bad:
            raise ImageReadError(
                f'Cannot read image {path} ({reason}). Fix or remove the '
                'file, or set skip_bad=True in LoadImageSafe to skip '
                'unreadable images during training.')
        self.num_skipped += 1
        print_log(
            f'LoadImageSafe: skipped unreadable image {path} ({reason}); '
            f'{self.num_skipped} skipped so far in this process.',
            logger='current',
            level=30)
        return None

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f', skip_bad={self.skip_bad})'
