#!/usr/bin/env bash
# Runs gradcam's Go benchmarks and the same work in PyTorch (bench/torch_bench.py, Debian's
# python3-torch) on this machine in one run, and writes bench/RESULTS.md with the Go/PyTorch
# ratios. Sequential on purpose: a 2-core machine must not run both at once.
#   bench/compare.sh [MODELS] [BATCHES]     default: resnet18,resnet50,vgg16,alexnet,mobilenet_v2 1,8
set -euo pipefail
cd "$(dirname "$0")/.."
models="${1:-resnet18,resnet50,vgg16,alexnet,mobilenet_v2}"
batches="${2:-1,8}"
out=bench/out
mkdir -p "$out"
export GOWORK=off GOMLX_BACKEND="${GOMLX_BACKEND:-go}"
batch_re="b($(echo "$batches" | sed 's/,/|/g'))"
echo "== Go benchmarks ($models; batches $batches)"
GRADCAM_BENCH_MODELS="$models" go test ./gradcam -run '^$' -bench "Explain/.*/.*/$batch_re/" \
  -benchtime 2x -timeout 600m | tee "$out/go.txt"
echo "== PyTorch"
/usr/bin/python3 bench/torch_bench.py .cache/models-ref ../shared "$out/torch.json" "$models" "$batches"
/usr/bin/python3 bench/report.py "$out/go.txt" "$out/torch.json" > bench/RESULTS.md
echo "== wrote bench/RESULTS.md"
