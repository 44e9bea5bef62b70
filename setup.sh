#!/usr/bin/env bash
# One command from a fresh Debian machine (with Go 1.26 from go.dev) to the notebooks in Jupyter:
#   1. Debian packages (apt-get; as root or with sudo): jupyter-notebook, jupyter-nbconvert,
#      python3-nbclient, python3-ipykernel, dataset-fashion-mnist, the fortunes packages of eight
#      languages (.ci/deps.sh notebooks);
#   2. the Go modules go.mod pins (go mod download);
#   3. the GoNB kernel and goimports, built at go.mod's versions and registered with Jupyter
#      (kernelspec/install.sh);
#   4. starts Jupyter on notebooks/ (skipped with --no-start, which CI uses).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v go >/dev/null; then
  echo "setup.sh: Go is not installed: install Go 1.26 or newer (https://go.dev/dl) and run this again" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  bash .ci/deps.sh notebooks
else
  sudo bash .ci/deps.sh notebooks
fi
GOWORK=off go mod download
bash kernelspec/install.sh
[ "${1:-}" = "--no-start" ] && exit 0
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-root)
exec jupyter notebook "${root[@]}" notebooks/
