#!/usr/bin/env bash
# Set everything up, then speak a sentence with the bundled voice (or the text you give).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
text="${*:-Hello! This is readaloud, speaking with the voice that comes built in.}"
exec .venv/bin/readaloud say "$text"
