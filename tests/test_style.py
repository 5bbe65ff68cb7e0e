# Copyright (c) mmkdwsd authors. All rights reserved.
"""The code style checks (flake8, isort; settings in setup.cfg) as tests, so
that CI holds every commit to them."""
import subprocess
import sys

import pytest

PATHS = ['mmkdwsd', 'tools', 'tests', 'configs']


@pytest.mark.parametrize('tool, args', [
    ('flake8', []),
    ('isort', ['--check-only', '--diff', '--skip', 'mmkdwsd/.mim']),
])
def test_style(tool, args, repo_root):
    proc = subprocess.run([sys.executable, '-m', tool, *args, *PATHS],
                          cwd=repo_root, capture_output=True, text=True)
    assert proc.returncode == 0, (
        f'{tool} found problems (settings in setup.cfg):\n'
        f'{proc.stdout}{proc.stderr}')
