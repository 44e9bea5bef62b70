#!/usr/bin/env bash
# What bench/RESULTS.md holds (see its notes): every model and method at batch 1 and 8, except
# occlusion on VGG-16 at batch 8 (392 VGG-16 forwards per call). Occlusion rows run one
# iteration (-benchtime 1x), the others two. The whole matrix with two iterations everywhere is
# bench/compare.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out; mkdir -p $out; : > $out/go.txt
export GOWORK=off GOMLX_BACKEND=go
all=resnet18,resnet50,vgg16,alexnet,mobilenet_v2
run() { GRADCAM_BENCH_MODELS=$1 GRADCAM_BENCH_METHODS=$2 go test ./gradcam -run '^$' -bench "Explain/.*/.*/$3/" -benchtime $4 -timeout 600m | tee -a $out/go.txt; }
grads=forward,gradcam,guided-backprop,guided-gradcam,cam,gradcam+gb+cam-2classes
run $all $grads b1 2x
run $all $grads b8 2x
run $all occlusion b1 1x   # with the default of 7 occluded images per forward
run resnet18,resnet50,alexnet,mobilenet_v2 occlusion b8 1x
/usr/bin/python3 bench/torch_bench.py .cache/models-ref ../shared $out/torch1.json $all 1
/usr/bin/python3 bench/torch_bench.py .cache/models-ref ../shared $out/torch8.json $all 8 $grads
# PyTorch occlusion at batch 8 (~13 min) was not run for RESULTS.md:
# /usr/bin/python3 bench/torch_bench.py .cache/models-ref ../shared $out/torch8occ.json resnet18,resnet50,alexnet,mobilenet_v2 8 occlusion
/usr/bin/python3 bench/report.py $out/go.txt $out/torch1.json $out/torch8.json > bench/RESULTS.md
