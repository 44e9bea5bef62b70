#!/usr/bin/python3
"""Loading a model in a fresh process, as every GoNB cell pays it, Go against PyTorch:

- Go, checkpoint: bench/measure with GRADCAM_LOAD_CACHE=off (decode the .pth, convert, place);
- Go, load cache: bench/measure again once the cache holds the checkpoint (one read);
- PyTorch: torch_bench.py load (torchvision's constructor, torch.load, load_state_dict).

Random-weight checkpoints of .cache/models-ref (torch.save's zip format), plus VGG-16 saved in
the legacy format of the official VGG and AlexNet weights. Median of 3 runs; peak = the
process's VmHWM. Usage: load.py MODELS_REF OUT.json [MODEL,...]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

import torch

REF, OUT = sys.argv[1], sys.argv[2]
MODELS = sys.argv[3].split(",") if len(sys.argv) > 3 else ["resnet50", "vgg16", "vgg16-legacy"]
HERE = os.path.dirname(os.path.abspath(__file__))


def median_run(cmd, env, runs=3):
    outs = []
    for _ in range(runs):
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        outs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    keys = [k for k in outs[0] if isinstance(outs[0][k], float)]
    return {k: statistics.median(o[k] for o in outs) for k in keys}


def main():
    tmp = tempfile.mkdtemp(prefix="gradcam-load-")
    binary = os.path.join(tmp, "measure")
    subprocess.run(["go", "build", "-o", binary, "./bench/measure"], cwd=os.path.join(HERE, ".."), check=True)
    results = []
    for name in MODELS:
        arch = name.split("-")[0]
        path = os.path.join(REF, arch + ".pth")
        if name.endswith("-legacy"):
            path = os.path.join(tmp, name + ".pth")
            torch.save(torch.load(os.path.join(REF, arch + ".pth")), path, _use_new_zipfile_serialization=False)
        env = dict(os.environ, GRADCAM_CACHE=os.path.join(tmp, "cache"))
        go = [binary, "load", "--model", arch, "--weights", path]
        r = {"model": name, "weights_mb": os.path.getsize(path) / 2**20}
        r["go_checkpoint"] = median_run(go, dict(env, GRADCAM_LOAD_CACHE="off"))
        subprocess.run(go, env=env, capture_output=True, check=True)  # fills the cache
        r["go_cached"] = median_run(go, env)
        r["pytorch"] = median_run(["/usr/bin/python3", os.path.join(HERE, "torch_bench.py"), "load", arch, path], env)
        print(json.dumps(r), flush=True)
        results.append(r)
    json.dump(results, open(OUT, "w"), indent=1)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
