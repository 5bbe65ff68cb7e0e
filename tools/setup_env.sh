#!/usr/bin/env bash
# Set up (or refresh) the mmkdwsd environment in ./.venv. Safe to re-run.
#
# Steps: venv (Python 3.11) -> torch/torchvision -> mmcv 2.1.0 with ops (built
# once from the PyPI sdist, then cached outside the repo keyed by torch and
# CUDA version) -> OpenMMLab packages -> openmim/mmdeploy without their
# harmful pins -> mmkdwsd itself (regular install, so `mim` finds its tools).
#
# Environment:
#   PYTHON          interpreter for a new venv (default: python3.11)
#   VENV            venv location (default: <repo>/.venv)
#   MMKDWSD_CACHE   wheel cache (default: ${XDG_CACHE_HOME:-~/.cache}/mmkdwsd)
#   MAX_JOBS        parallel compile jobs for mmcv (default: nproc)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
CACHE="${MMKDWSD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmkdwsd}"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
STEP="start"

fail() {
  echo "" >&2
  echo "setup_env: FAILED at step '$STEP'." >&2
  echo "setup_env: fix the error above and re-run; finished steps are skipped." >&2
}
trap fail ERR

step() { STEP="$1"; echo "==> [setup] $1"; }

step "create venv ($VENV with $PYTHON)"
if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null || { echo "setup_env: $PYTHON not found; set PYTHON=/path/to/python3.11" >&2; false; }
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# pip's config here points at optional local indexes; drop its noise about
# missing ones, keep every other message.
pip_install() {
  "$PY" -m pip install --disable-pip-version-check -q "$@" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

step "build tools (setuptools with pkg_resources)"
# setuptools >= 81 dropped pkg_resources, which mmcv's setup.py, openmim and
# mmengine's `mmdet::` config lookup still import.
if ! "$PY" -W ignore -c "import pkg_resources, wheel, ninja, setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) >= 81)" 2>/dev/null; then
  pip_install 'setuptools>=77,<81' wheel packaging ninja
fi

step "torch $TORCH_VERSION + torchvision $TORCHVISION_VERSION"
if ! "$PY" -c "import torch, torchvision, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  pip_install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

step "mmcv $MMCV_VERSION with ops"
KEY="$("$PY" - <<'PY'
import os
import torch
cuda = torch.cuda.is_available() or os.environ.get('FORCE_CUDA') == '1'
tag = f'cu{torch.version.cuda.replace(".", "")}' if cuda and torch.version.cuda else 'cpu'
print(f'torch{torch.__version__.split("+")[0]}-{tag}')
PY
)"
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-$KEY"
if ! "$PY" -c "import mmcv, sys; from mmcv.ops import RoIAlign; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" 2>/dev/null; then
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    echo "    no cached wheel in $WHEEL_DIR: building from the sdist (about 10 minutes on 2 cores)"
    BUILD="$(mktemp -d)"
    "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$BUILD"
    tar -xzf "$BUILD"/mmcv-*.tar.gz -C "$BUILD"
    SRC="$(ls -d "$BUILD"/mmcv-$MMCV_VERSION)"
    # torch >= 2.14 headers need C++20; mmcv pins c++14/17 (open-mmlab/mmcv#3341).
    if "$PY" -c "import torch, sys; v = tuple(int(x) for x in torch.__version__.split('+')[0].split('.')[:2]); sys.exit(v < (2, 14))"; then
      sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    fi
    (cd "$SRC" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip wheel -q --no-deps --no-build-isolation . -w "$BUILD/dist")
    # Publish atomically: a killed build never leaves a wheel that looks usable.
    mkdir -p "$CACHE/wheels"
    TMP_DIR="$(mktemp -d "$CACHE/wheels/.tmp.XXXXXX")"
    cp "$BUILD"/dist/mmcv-*.whl "$TMP_DIR"/
    rm -rf "$WHEEL_DIR"; mv "$TMP_DIR" "$WHEEL_DIR"
    rm -rf "$BUILD"
  else
    echo "    using cached wheel from $WHEEL_DIR"
  fi
  pip_install addict numpy packaging Pillow pyyaml yapf 'opencv-python==5.0.0.93' 'mmengine>=0.10.7,<1.0.0'
  pip_install --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-*.whl
fi
"$PY" -c "from mmcv.ops import RoIAlign" || { echo "setup_env: 'from mmcv.ops import RoIAlign' failed (see above); a wheel built without ops lacks mmcv._ext: delete $WHEEL_DIR and re-run" >&2; false; }

# The pip steps below are skipped when nothing they read has changed.
STAMP="$VENV/.mmkdwsd-deps.sha256"
DEPS_SHA="$(cat "$ROOT"/requirements/*.txt "$ROOT/tools/setup_env.sh" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$DEPS_SHA" ]; then
step "OpenMMLab packages and runtime dependencies"
pip_install -r "$ROOT/requirements/runtime.txt"

step "openmim and mmdeploy without their harmful pins"
# openmim -> opendatalab -> openxlab pins (and downgrades) setuptools,
# requests, rich and tqdm; mim never imports them. mmdeploy pins
# protobuf<=3.20.2, which conflicts with current onnx.
echo "    (pip will report 'openmim requires opendatalab' and mmdeploy's protobuf pin: both expected)"
pip_install --no-deps openmim==0.3.9 mmdeploy==1.3.1
pip_install -r "$ROOT/requirements/mminstall.txt"

step "tests requirements"
pip_install -r "$ROOT/requirements/tests.txt"
echo "$DEPS_SHA" > "$STAMP"
else
  echo "==> [setup] dependencies unchanged since the last setup: skipping pip"
fi

step "mmkdwsd (regular install, so mim finds its tools)"
pip_install --no-deps --no-build-isolation --force-reinstall "$ROOT"
# The regular install gives mim its entry points (mmkdwsd/.mim/tools); this
# .pth puts the checkout first on sys.path, so every tool, test and mim run
# in this venv imports the checkout's code, never a stale installed copy.
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "import sys; sys.path.insert(0, '$ROOT')" > "$SITE/mmkdwsd-checkout.pth"
# setup.py copied tools/ and configs/ into the checkout's mmkdwsd/.mim/ for
# the wheel; mim (through the .pth above) finds the checkout's package, so
# link them back: an edited tool or config is what `mim train/test` runs.
for name in tools configs; do
  rm -rf "$ROOT/mmkdwsd/.mim/$name"
  ln -s "../../$name" "$ROOT/mmkdwsd/.mim/$name"
done

step "check"
"$PY" -W ignore - <<'PY'
import importlib.util
import pkg_resources  # noqa: F401  (setuptools still ships it)
from mmcv.ops import RoIAlign  # noqa: F401
import mmdet, mmpretrain, mmengine, mmkdwsd  # noqa: E401,F401
assert importlib.util.find_spec('openxlab') is None, 'openxlab must not be installed'
print(f'    mmkdwsd {mmkdwsd.__version__}, mmcv ops OK, mmdet {mmdet.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, mmengine {mmengine.__version__}')
PY
trap - ERR
echo "==> [setup] done: activate with 'source $VENV/bin/activate'"
