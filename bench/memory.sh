#!/usr/bin/env bash
# Peak memory of notebook 01's heaviest cell on VGG-16 (bench/measure notebook01, a fresh
# process as GoNB runs a cell), appended to bench/out/memory.json under LABEL.
#   bench/memory.sh [LABEL [MEASURE]]   default label: after; MEASURE: a bench/measure binary
#                                       built elsewhere (the "before" row: built on c36261b)
set -euo pipefail
cd "$(dirname "$0")/.."
label="${1:-after}"
out=bench/out/memory.json
mkdir -p bench/out
measure="${2:-go run ./bench/measure}"
r=$($measure notebook01 --model vgg16 --weights .cache/models-ref/vgg16.pth --image ../shared/images/cat_dog.png 2>/dev/null)
/usr/bin/python3 - "$out" "$label" "$r" <<'PY'
import json, os, sys
out, label, r = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
r["label"] = label
rows = [x for x in (json.load(open(out)) if os.path.exists(out) else []) if x["label"] != label] + [r]
json.dump(rows, open(out, "w"), indent=1)
print(json.dumps(r))
PY
