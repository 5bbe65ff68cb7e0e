# Copyright (c) mmkdwsd authors. All rights reserved.
import io

from mmkdwsd.utils import Progress


def _lines(stream: io.StringIO) -> list:
    return stream.getvalue().splitlines()


def test_plain_lines_every_tenth_and_at_the_end():
    out = io.StringIO()  # not a terminal: plain lines, no bar
    with Progress(100, 'proposals', file=out) as progress:
        for _ in range(25):
            progress.update(4)
    lines = _lines(out)
    # 10%, 20%, ..., 90%, then the final line (no "left" line at 100%)
    assert len(lines) == 10, lines
    assert lines[0].startswith('proposals: 12/100 img (12%), ')
    assert 'left' in lines[0]
    assert lines[-1].startswith('proposals: 100/100 img (100%), done in ')
    assert '\r' not in out.getvalue()


def test_a_line_per_interval_even_below_the_step():
    out = io.StringIO()
    progress = Progress(1000, 'soft targets', unit='img', file=out,
                        interval=0.0)
    progress.update(1)
    progress.update(1)
    assert len(_lines(out)) == 2
    progress.close()
    progress.close()  # closing twice prints once
    lines = _lines(out)
    assert len(lines) == 3
    assert lines[-1].startswith('soft targets: 2/1000 img (0%), stopped in')


def test_resumed_work_counts_from_initial():
    out = io.StringIO()
    with Progress(50, 'cache', initial=30, file=out) as progress:
        progress.update(20)
    lines = _lines(out)
    assert lines[0] == 'cache: 30/50 img (60%), continuing, 30 already done'
    assert lines[-1].startswith('cache: 50/50 img (100%), done in')


def test_disabled_or_empty_shows_nothing():
    out = io.StringIO()
    with Progress(10, 'x', enabled=False, file=out) as progress:
        progress.update(10)
    with Progress(0, 'y', file=out):
        pass
    assert out.getvalue() == ''
    assert progress.done == 10


def test_bar_on_request():
    out = io.StringIO()
    with Progress(8, 'MultiDigits train', file=out, bar=True) as progress:
        progress.update(8)
    text = out.getvalue()
    assert 'MultiDigits train' in text and '8/8' in text
    assert '(100%)' not in text  # tqdm's format, not the plain lines
