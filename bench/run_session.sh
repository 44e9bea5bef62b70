#!/usr/bin/env bash
# The subset of the matrix that bench/RESULTS.md holds (see its notes): batch 1 for every model
# (no occlusion for VGG-16), batch 8 for resnet18 and mobilenet_v2 (no occlusion). The full
# matrix is bench/compare.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out; mkdir -p $out; : > $out/go.txt
export GOWORK=off GOMLX_BACKEND=go
run() { GRADCAM_BENCH_MODELS=$1 GRADCAM_BENCH_METHODS=$2 go test ./gradcam -run '^$' -bench "Explain/.*/.*/$3/" -benchtime 2x -timeout 600m | tee -a $out/go.txt; }
grads=forward,gradcam,guided-backprop,guided-gradcam,cam,gradcam+gb+cam-2classes
run resnet18,resnet50,alexnet,mobilenet_v2 $grads,occlusion b1
run vgg16 $grads b1
run resnet18,mobilenet_v2 $grads b8
/usr/bin/python3 bench/torch_bench.py .cache/models-ref ../shared $out/torch1.json resnet18,resnet50,vgg16,alexnet,mobilenet_v2 1
/usr/bin/python3 bench/torch_bench.py .cache/models-ref ../shared $out/torch8.json resnet18,mobilenet_v2 8 $grads
/usr/bin/python3 bench/report.py $out/go.txt $out/torch1.json $out/torch8.json > bench/RESULTS.md
