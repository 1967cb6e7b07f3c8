#!/usr/bin/env bash
# Set everything up, then run the whole test suite. The tests start their own real services
# (a PulseAudio server with a null sink, ...) in private folders, so nothing on the desktop is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
.venv/bin/ruff check readaloud tests bench
# No import cycles, and the layers of STYLE.md point inward ([tool.importlinter] in pyproject.toml).
imports=$(.venv/bin/lint-imports --no-cache 2>&1) || { echo "$imports"; exit 1; }
.venv/bin/mypy readaloud
exec .venv/bin/python -m pytest "$@"
