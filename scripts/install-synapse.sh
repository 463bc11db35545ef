#!/usr/bin/env bash
# Install Synapse (and the synapse-http-antispam module) into .synapse-venv/ at the project root,
# for the end-to-end tests. Synapse pins Twisted, pydantic and friends, so it never shares the
# project's own venv. Idempotent: does nothing when .synapse-venv can already import synapse.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.synapse-venv"
python="${PYTHON:-python3}"

if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "import synapse, synapse_http_antispam" 2>/dev/null; then
    echo "synapse already installed in $venv"
    exit 0
fi

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "matrix-synapse==1.163.*" \
    "synapse-http-antispam==0.5.*"
"$venv/bin/python" -c "import synapse; print('synapse', synapse.__version__, 'installed in $venv')"
