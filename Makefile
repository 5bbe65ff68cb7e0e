# The two commands of the README. Each sets the environment up first
# (tools/setup_env.sh: idempotent; the mmcv build is cached outside the repo).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test

setup:
	bash tools/setup_env.sh

## Set up, then run the main job: the whole KD-WSD pipeline on MultiDigits.
demo: setup
	$(PY) tools/run_pipeline.py --work-dir work_dirs/demo

## Set up, then run the test suite.
test: setup
	$(PY) -m pytest tests -q -ra $(PYTEST_ARGS)
