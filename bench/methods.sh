#!/usr/bin/env bash
# Every explanation method at batch 1 on ResNet-50 and VGG-16, in Go (BenchmarkMethods) and in
# its reference library (bench/peers_bench.py: pytorch-grad-cam, Captum, Zennit), one after the
# other on this machine; then rewrites bench/RESULTS.md with bench/report.py, which reads every
# bench/out/methods_go_*.txt and methods_peers_*.json (a later run's rows replace an earlier
# run's; each Go file's first line says when and at which commit it was measured).
#   bench/methods.sh [MODELS] [METHODS] [TAG]   default: resnet50,vgg16, every method but the
#   minutes-long ones (Score-CAM, Ablation-CAM, RISE) and lrp (its composite is the caller's), tag "all"
# The minutes-long ones are measured once, each on its own, and kept in their own files:
#   bench/methods.sh resnet50,vgg16 scorecam scorecam
set -euo pipefail
cd "$(dirname "$0")/.."
export GOWORK=off GOMLX_BACKEND="${GOMLX_BACKEND:-go}"
models="${1:-resnet50,vgg16}"
methods="${2:-}"
tag="${3:-all}"
if [ -z "$methods" ]; then
  methods=$(go run ./cmd/gradcam methods | awk '$1 !~ /^(scorecam|ablationcam|rise|lrp)$/ {print $1}' | paste -sd,)
fi
out=bench/out
mkdir -p "$out"
# Methods of seconds run once after their first call; the others three times (the mean).
long='^(scorecam|ablationcam|rise|occlusion|integrated-gradients|smoothgrad|lime|kernel-shap)$'
pick() { echo "$methods" | tr , '\n' | awk -v re="$long" -v want="$1" '(want == "long") == ($1 ~ re)' | paste -sd,; }
bench() {
  [ -n "$1" ] || return 0
  GRADCAM_BENCH_MODELS="$models" GRADCAM_BENCH_METHODS="$1" go test ./gradcam -run '^$' -bench 'Methods/' \
    -benchtime "$2" -timeout 600m
}
{
  echo "# measured $(date -u +%Y-%m-%d) at $(git rev-parse --short HEAD) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  bench "$(pick short)" 3x
  bench "$(pick long)" 1x
} | tee "$out/methods_go_$tag.txt"
/usr/bin/python3 bench/peers_bench.py .cache/models-ref ../shared "$out/methods_peers_$tag.json" "$models" "$methods"
/usr/bin/python3 bench/report.py "$out/go.txt" "$out/torch.json" > bench/RESULTS.md
echo "== wrote bench/RESULTS.md"
