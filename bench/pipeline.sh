#!/usr/bin/env bash
# gradcam evaluate's throughput, images per second, per method and model, with 1 and 2 workers
# (--workers: batches measured at once, each by its own copy of the model), on the local runner:
#   - the demo networks on the first N cluttered Fashion-MNIST items with docs/table1's ten methods
#     and metrics;
#   - the real MobileNetV2 on ../shared/images with the same ten methods and docs/table1/imagenet's
#     metrics.
# Writes bench/out/pipeline.tsv (a "# measured" first line, then model, method, workers, images,
# seconds, images/s; each time is the whole process, loading included, into a fresh folder), then
# bench/RESULTS.md with bench/report.py.
#   bench/pipeline.sh [N]   N: cluttered items (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOWORK=off
n="${1:-100}"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/gradcam" ./cmd/gradcam
demo_methods="cam gradcam gradcam++ xgradcam layercam scorecam guided-gradcam saliency input-x-gradient occlusion"
demo_metrics="classification-error,localization-error,pointing-game,deletion-auc,insertion-auc,average-drop,increase-in-confidence"
photo_methods="$demo_methods"
photo_metrics="deletion-auc,insertion-auc,average-drop,increase-in-confidence"
weights=../shared/weights/mobilenet_v2_coral_dequant.pth
photos=$(ls ../shared/images/*.png ../shared/images/*.jpg | wc -l)
out=bench/out/pipeline.tsv
mkdir -p bench/out
run() { # model images workers method args...
  local model=$1 images=$2 workers=$3 method=$4 start end
  shift 4
  rm -rf "$bin/run"
  start=$(date +%s.%N)
  "$bin/gradcam" evaluate --workers "$workers" --method "$method" --out "$bin/run" "$@" >/dev/null 2>"$bin/log" ||
    { cat "$bin/log" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v m="$model" -v me="$method" -v w="$workers" -v n="$images" -v s="$start" -v e="$end" \
    'BEGIN { printf "%s\t%s\t%d\t%d\t%.1f\t%.2f\n", m, me, w, n, e - s, n / (e - s) }'
}
{
  echo "# measured $(date -u +%Y-%m-%d) at $(git rev-parse --short HEAD) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  printf "model\tmethod\tworkers\timages\tseconds\timages/s\n"
  for method in $demo_methods; do
    for workers in 1 2; do
      run fashion-gap "$n" "$workers" "$method" --model fashion-gap --data cluttered-fashion-mnist --limit "$n" --metric "$demo_metrics"
    done
  done
  for method in $photo_methods; do
    for workers in 1 2; do
      run mobilenet_v2 "$photos" "$workers" "$method" --model mobilenet_v2 --weights "$weights" --data ../shared/images \
        --batch 1 --metric "$photo_metrics"
    done
  done
} | tee "$out.tmp"
mv "$out.tmp" "$out"
/usr/bin/python3 bench/report.py bench/out/go.txt bench/out/torch.json > bench/RESULTS.md
echo "== wrote bench/RESULTS.md"
