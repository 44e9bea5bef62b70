#!/usr/bin/env bash
# Every explanation method at batch 1 on ResNet-50 and VGG-16, in Go (BenchmarkMethods) and in
# its reference library (bench/peers_bench.py: pytorch-grad-cam, Captum), one after the other on
# this machine; then rewrites bench/RESULTS.md (its last table) with bench/report.py, which reads
# every bench/out/methods_go*.txt and methods_peers*.json (later files override earlier rows).
#   bench/methods.sh [MODELS] [METHODS] [TAG]   default: resnet50,vgg16, every method, no tag
# e.g. bench/methods.sh resnet50,vgg16 scorecam scorecam   (Score-CAM alone: minutes per model)
set -euo pipefail
cd "$(dirname "$0")/.."
models="${1:-resnet50,vgg16}"
methods="${2:-}"
tag="${3:+_$3}"
out=bench/out
mkdir -p "$out"
export GOWORK=off GOMLX_BACKEND="${GOMLX_BACKEND:-go}"
GRADCAM_BENCH_MODELS="$models" GRADCAM_BENCH_METHODS="$methods" go test ./gradcam -run '^$' -bench 'Methods/' \
  -benchtime 1x -timeout 600m | tee "$out/methods_go$tag.txt"
/usr/bin/python3 bench/peers_bench.py .cache/models-ref ../shared "$out/methods_peers$tag.json" "$models" $methods
/usr/bin/python3 bench/report.py "$out/go.txt" "$out/torch.json" > bench/RESULTS.md
echo "== wrote bench/RESULTS.md"
