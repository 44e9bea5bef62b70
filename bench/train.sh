#!/usr/bin/env bash
# Training's speed (issue 33), written to bench/out for bench/report.py:
#   - the step benchmarks against PyTorch on the same machine: the Fashion-MNIST demo CNN
#     (BenchmarkTrainStep / torch_bench.py train) and MobileNetV2's head fine-tuned with the
#     backbone frozen (BenchmarkFinetuneStep / torch_bench.py finetune);
#   - the shipped demo models' retrain commands as whole processes (built first, so compiling is
#     not timed; their checkpoints written to a scratch folder): wall and CPU time, the cores they
#     kept busy (CPU time / wall), peak memory. retrain.tsv keeps one row per command.
# Usage: bash bench/train.sh [steps|retrain|all]   (steps: 2 minutes; retrain: about 25 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOWORK=off
what=${1:-all}
out=bench/out
mkdir -p "$out"
if [ "$what" = steps ] || [ "$what" = all ]; then
  echo "== training steps"
  go test ./pretrained/fashion -run '^$' -bench TrainStep -benchtime 5x | tee "$out/train_go.txt"
  go test ./train -run '^$' -bench FinetuneStep -benchtime 3x | tee "$out/finetune_go.txt"
  /usr/bin/python3 bench/torch_bench.py train "$out/train_torch.json"
  /usr/bin/python3 bench/torch_bench.py finetune "$out/finetune_torch.json"
fi
[ "$what" = steps ] && exit 0
echo "== retrain commands"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gradcam" ./cmd/gradcam
go build -o "$tmp/disks" ./pretrained/disks/retrain
go build -o "$tmp/langid" ./pretrained/langid/retrain
go build -o "$tmp/scenes" ./pretrained/scenes/retrain
rows="$tmp/retrain.tsv" # into bench/out only when every command has run
printf 'command\twall_s\tuser_s\tsys_s\tpeak_mb\tmeasured\n' >"$rows"
stamp="$(date -u +%F) ($(git rev-parse --short HEAD))"
timed() {
  local name=$1
  shift
  echo "-- $name"
  /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
  tr '\r' '\n' <"$tmp/log" | grep -v '^ *$' | tail -n 2
  read -r wall user sys kb <"$tmp/time"
  printf '%s\t%s\t%s\t%s\t%d\t%s\n' "$name" "$wall" "$user" "$sys" $((kb / 1024)) "$stamp" >>"$rows"
}
timed "gradcam train-demo" "$tmp/gradcam" train-demo --out "$tmp"
timed "go run ./pretrained/disks/retrain" "$tmp/disks" -out "$tmp"
timed "go run ./pretrained/langid/retrain" "$tmp/langid" -out "$tmp"
timed "go run ./pretrained/scenes/retrain -model vqa" "$tmp/scenes" -model vqa -out "$tmp"
timed "go run ./pretrained/scenes/retrain -model caption" "$tmp/scenes" -model caption -out "$tmp"
cp "$rows" "$out/retrain.tsv.part"
mv "$out/retrain.tsv.part" "$out/retrain.tsv"
