#!/usr/bin/env bash
# Measures what bench/RESULTS.md reports, Go beside PyTorch on this machine, one after the other
# (a 2-core machine must not run both at once), then writes it with bench/report.py:
#   - the explanation matrix: every model and method at batch 1 and 8 (`go test ./gradcam -bench
#     Explain`, two iterations, three runs of each and their median; occlusion one iteration, and
#     not VGG-16's at batch 8: 392 forwards), and bench/torch_bench.py's efficient PyTorch and the
#     pytorch-grad-cam peer;
#   - loading in a fresh process (bench/load.py), the training steps (bench/train.sh steps: the
#     demo CNN and MobileNetV2's frozen fine-tune against torch_bench.py), notebook 01's peak
#     memory on VGG-16 (bench/memory.sh) and the GoNB cell (bench/cell.py). Their "before" rows (the commit before issue 11, c36261b) stay in
#     bench/out/memory.json and cell.json: see those scripts. And `gradcam explain` as a whole
#     process against pytorch-grad-cam and Captum (bench/process.py).
#   bench/compare.sh [MODELS] [go]     default: resnet18,resnet50,vgg16,alexnet,mobilenet_v2;
#   "go" measures the Go explanation matrix only and keeps the other results in bench/out.
set -euo pipefail
cd "$(dirname "$0")/.."
models="${1:-resnet18,resnet50,vgg16,alexnet,mobilenet_v2}"
out=bench/out
mkdir -p "$out"
: > "$out/go.txt"
export GOWORK=off GOMLX_BACKEND="${GOMLX_BACKEND:-go}"
# One process per model, as a user's program or GoNB cell explains one model: in one long
# process, the buffers pooled for earlier (larger) models slow the later ones by up to 50%.
# Three runs of each benchmark (-count 3), reported by their median: this machine's speed
# varies by 10-30% from one minute to the next (a shared host).
run() {
  for model in $(echo "$1" | tr , ' '); do
    GRADCAM_BENCH_MODELS=$model GRADCAM_BENCH_METHODS=$2 go test ./gradcam -run '^$' -bench "Explain/.*/.*/$3/" \
      -benchtime $4 -count 3 -timeout 600m | tee -a "$out/go.txt"
  done
}
grads=forward,gradcam,guided-backprop,guided-gradcam,cam,gradcam+gb+cam-2classes
echo "== Go: the explanation matrix ($models)"
run "$models" $grads b1 2x
run "$models" $grads b8 2x
run "$models" occlusion b1 1x
no_vgg=$(echo "$models" | tr , '\n' | { grep -vx vgg16 || true; } | paste -sd, -)
[ -z "$no_vgg" ] || run "$no_vgg" occlusion b8 1x
if [ "${2:-}" = go ]; then
  /usr/bin/python3 bench/report.py "$out/go.txt" "$out/torch.json" > bench/RESULTS.md
  echo "== wrote bench/RESULTS.md (Go matrix re-measured)"
  exit 0
fi
echo "== PyTorch: the explanation matrix"
/usr/bin/python3 bench/torch_bench.py .cache/models-ref ../shared "$out/torch.json" "$models" 1,8
echo "== loading"
/usr/bin/python3 bench/load.py .cache/models-ref "$out/load.json"
echo "== training steps (the retrain commands' timings: bash bench/train.sh retrain, about 25 minutes)"
bash bench/train.sh steps
echo "== notebook 01 on VGG-16: peak memory"
bash bench/memory.sh after
echo "== gradcam explain as a whole process"
/usr/bin/python3 bench/process.py .cache/models-ref ../shared "$out/process.json"
/usr/bin/python3 bench/process.py .cache/models-ref ../shared "$out/process_captum.json" captum
echo "== a GoNB cell"
/usr/bin/python3 bench/cell.py . .cache/models-ref/vgg16.pth ../shared/images/cat_dog.png "$out/cell.json" after
/usr/bin/python3 bench/report.py "$out/go.txt" "$out/torch.json" > bench/RESULTS.md
echo "== wrote bench/RESULTS.md"
