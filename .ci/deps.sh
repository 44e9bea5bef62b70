#!/usr/bin/env bash
# Installs the Debian packages the toolkit's tests and notebooks use (root; apt-get).
#   deps.sh            everything CI needs: PyTorch, ONNX, OpenCV and what pytorch-grad-cam imports
#                      (reference numbers, ../shared/peers; pandas for Quantus), Jupyter,
#                      Fashion-MNIST (dataset-fashion-mnist), fortunes in eight languages (text),
#                      Chromium, its driver and Selenium (the notebook explorer's browser test)
#   deps.sh notebooks  only what running the notebooks needs (the Docker image)
set -euo pipefail
notebooks="jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel dataset-fashion-mnist
  fortunes fortunes-de fortunes-es fortunes-it fortunes-br fortunes-pl fortunes-cs fortunes-ru"
reference="python3-torch python3-torchvision python3-numpy python3-pil python3-opencv python3-onnx
  python3-matplotlib python3-scipy python3-sklearn python3-skimage python3-tqdm python3-pandas chromium chromium-driver python3-selenium"
case "${1:-all}" in
  notebooks) pkgs="$notebooks"; check="import nbclient, nbconvert" ;;
  *) pkgs="$notebooks $reference"; check="import torch, torchvision, numpy, PIL, cv2, onnx, matplotlib, scipy, sklearn, skimage, tqdm, pandas, nbclient, nbconvert, selenium" ;;
esac
if /usr/bin/python3 -c "$check" 2>/dev/null && [ -x /usr/bin/jupyter-nbconvert ] &&
  { [ "${1:-all}" = notebooks ] || [ -x /usr/bin/chromedriver ]; } &&
  [ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] && [ -f /usr/share/games/fortunes/brasil ] &&
  [ -d /usr/share/games/fortunes/ru ]; then
  exit 0
fi
echo "== installing Debian packages: $pkgs"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
