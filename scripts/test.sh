#!/usr/bin/env bash
# Install what the tests need (CPU torch first, so pip never pulls a CUDA build), then
# check the import contracts, lint, formatting and types, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e ".[test]"
# Qt needs a few system libraries even offscreen; install them where apt is available.
if ! python3 -c "from PySide6 import QtWidgets" 2>/dev/null && command -v apt-get >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 >/dev/null) || true
fi
export QT_QPA_PLATFORM=offscreen
lint-imports
ruff check .
ruff format --check .
mypy  # the core packages; settings in pyproject.toml
python3 -m pytest -q "$@"
