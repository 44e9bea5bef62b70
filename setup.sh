#!/usr/bin/env bash
# README's set-up command: from a fresh Debian machine (with Go 1.26 from go.dev), everything the
# notebooks and README's test command need:
#   1. Debian packages (apt-get; as root or with sudo): Jupyter and nbconvert, Fashion-MNIST, the
#      fortunes of eight languages, and the reference packages the tests compare against (PyTorch,
#      torchvision, ONNX, OpenCV, SciPy, scikit-learn, scikit-image, Chromium and Selenium for the
#      browser test): .ci/deps.sh;
#   2. the Go modules go.mod pins (go mod download);
#   3. the GoNB kernel and goimports, built at go.mod's versions and registered with Jupyter
#      (kernelspec/install.sh).
# Then `jupyter notebook notebooks/` opens the notebooks, and `go test ./... -timeout 80m` tests.
# `bash setup.sh --notebooks` installs only what running the notebooks needs (no PyTorch).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v go >/dev/null; then
  echo "setup.sh: Go is not installed: install Go 1.26 or newer (https://go.dev/dl) and run this again" >&2
  exit 1
fi
what=all
[ "${1:-}" = "--notebooks" ] && what=notebooks
if [ "$(id -u)" -eq 0 ]; then
  bash .ci/deps.sh "$what"
else
  sudo bash .ci/deps.sh "$what"
fi
GOWORK=off go mod download
bash kernelspec/install.sh
echo "setup.sh: done. Notebooks: jupyter notebook notebooks/   Tests: go test ./... -timeout 80m"
