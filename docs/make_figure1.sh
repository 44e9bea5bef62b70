#!/usr/bin/env bash
# Redraws docs/figure1.png, the picture at the top of README: the Grad-CAM paper's Figure 1 with
# the real SqueezeNet 1.0 of ../shared/weights, a row for tiger cat (282) and one for bull mastiff
# (243): guided backprop, Grad-CAM, Guided Grad-CAM, occlusion (gradcam explain's figure.png of
# each class, stacked with Debian's python3-pil).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/gradcam" ./cmd/gradcam
for class in 282 243; do
  "$tmp/gradcam" explain --model squeezenet1_0 --weights ../shared/weights/squeezenet1_0_deepcompression.pth \
    --image ../shared/images/cat_dog.png --class "$class" --method guided-backprop,gradcam,guided-gradcam,occlusion \
    --out "$tmp/$class" >/dev/null
done
/usr/bin/python3 - "$tmp/282/figure.png" "$tmp/243/figure.png" docs/figure1.png <<'PY'
import sys
from PIL import Image
rows = [Image.open(p).convert("RGB") for p in sys.argv[1:3]]
out = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
y = 0
for r in rows:
    out.paste(r, (0, y))
    y += r.height
out.save(sys.argv[3], optimize=True)
PY
echo "wrote docs/figure1.png"
