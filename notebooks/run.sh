#!/usr/bin/env bash
# Executes the notebooks in place with the GoNB kernel, storing their outputs (what GitHub shows).
# Usage: notebooks/run.sh [NOTEBOOK...]; GRADCAM_MODEL and GRADCAM_WEIGHTS are passed to the kernel.
set -euo pipefail
cd "$(dirname "$0")"
[ $# -gt 0 ] || set -- [0-9]*.ipynb
for nb in "$@"; do
  echo "== $nb"
  /usr/bin/jupyter-nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=1800 "$nb"
done
