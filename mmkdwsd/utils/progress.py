# Copyright (c) mmkdwsd authors. All rights reserved.
"""Progress of long work (data generation, proposals, soft targets, caches).

On a terminal it is a tqdm bar. Where the output goes to a pipe or a log
file (``make demo > log``, the pipeline's subprocesses under a job runner,
the GPU session's logs) a bar's carriage returns would pile up into one
unreadable line, so :class:`Progress` prints a plain line each time another
10% is done, and when items finish more than a minute after the last line,
with the elapsed time and an estimate of the time left.
"""
import sys
import time
from typing import IO, Optional


class Progress:
    """Count done items of a known total and show it.

    Args:
        total (int): Items to do in all.
        desc (str): What is being done, the start of every line.
        unit (str): What an item is. Defaults to 'img'.
        initial (int): Items done before this run (a resumed job).
            Defaults to 0.
        enabled (bool): False shows nothing. Defaults to True.
        file (IO, optional): Where to write. Defaults to ``sys.stderr``.
        bar (bool, optional): True for a tqdm bar, False for plain lines.
            Defaults to None: a bar when ``file`` is a terminal.
        every (float): Fraction of ``total`` between plain lines.
            Defaults to 0.1.
        interval (float): Seconds after which an update prints a plain
            line even within the 10% step. Defaults to 60.

    Example:
        >>> with Progress(len(paths), 'proposals') as progress:
        ...     for shard in shards:
        ...         progress.update(len(shard))
    """

    def __init__(self,
                 total: int,
                 desc: str,
                 unit: str = 'img',
                 initial: int = 0,
                 enabled: bool = True,
                 file: Optional[IO] = None,
                 bar: Optional[bool] = None,
                 every: float = 0.1,
                 interval: float = 60.0) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.done = self.initial = initial
        self.enabled = enabled and total > 0
        self.file = file if file is not None else sys.stderr
        if bar is None:
            isatty = getattr(self.file, 'isatty', None)
            bar = bool(isatty and isatty())
        self.step = max(1, int(total * every))
        self.interval = interval
        self._bar = None
        if self.enabled and bar:
            from tqdm import tqdm
            self._bar = tqdm(
                total=total,
                initial=initial,
                desc=desc,
                unit=unit,
                file=self.file)
        self._start = self._last_time = time.perf_counter()
        self._next = (initial // self.step + 1) * self.step
        self._closed = False
        if self.enabled and self._bar is None and initial:
            self._line(f'continuing, {initial} already done')

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.perf_counter()
        if self.done >= self._next or now - self._last_time >= self.interval:
            self._next = (self.done // self.step + 1) * self.step
            self._last_time = now
            if self.done < self.total:
                self._line(self._eta(now))

    def close(self) -> None:
        """Show the final count (once)."""
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            return
        elapsed = time.perf_counter() - self._start
        state = 'done' if self.done >= self.total else 'stopped'
        self._line(f'{state} in {elapsed:.0f} s')

    def _eta(self, now: float) -> str:
        elapsed = now - self._start
        new = self.done - self.initial
        left = (self.total - self.done) * elapsed / new if new else 0.0
        return f'{elapsed:.0f} s, about {left:.0f} s left'

    def _line(self, tail: str) -> None:
        pct = 100 * self.done / self.total
        print(f'{self.desc}: {self.done}/{self.total} {self.unit} '
              f'({pct:.0f}%), {tail}',
              file=self.file,
              flush=True)

    def __enter__(self) -> 'Progress':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
