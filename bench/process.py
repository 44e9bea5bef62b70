#!/usr/bin/python3
"""`gradcam explain` as a whole process against the same work in the reference library, each as
its README or tutorials show it:
  - pytorch-grad-cam (bench/peer_explain.py): VGG-16, Grad-CAM of class 243 on cat_dog.png, the
    overlay written as a PNG;
  - captum (bench/peer_attribute.py): ResNet-50, saliency, Integrated Gradients (50 steps) and
    SmoothGrad (25 samples) of class 243 on cat_dog.png, the map written as a PNG.
Runs alternate (Go, Python, Go, ...) so that both see the same machine state; the first pair warms
the file cache (and fills the load cache); the median of the next RUNS of each is reported, with
each process's peak memory from one more run of each.

Usage: process.py MODELS_REF SHARED OUT.json [pytorch-grad-cam|captum]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REF, SHARED, OUT = sys.argv[1:4]
WHICH = sys.argv[4] if len(sys.argv) > 4 else "pytorch-grad-cam"
HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = 5


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def compare(go, py):
    """Wall times (median of RUNS after a warm-up pair, alternating) and peak memory of both."""
    times = {"go": [], "peer": []}
    for i in range(RUNS + 1):
        for name, cmd in (("go", go), ("peer", py)):
            wall = timed(cmd)
            if i > 0:
                times[name].append(wall)
    peaks = {}
    for name, cmd in (("go", go), ("peer", py)):
        p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, check=True, capture_output=True, text=True)
        peaks[name] = int(p.stderr.strip().splitlines()[-1]) / 1024
    return {k: {"wall_s": statistics.median(v), "runs": len(v), "peak_mb": peaks[k]} for k, v in times.items()}


def main():
    tmp = tempfile.mkdtemp(prefix="gradcam-process-")
    binary = os.path.join(tmp, "gradcam")
    subprocess.run(["go", "build", "-o", binary, "./cmd/gradcam"], cwd=os.path.join(HERE, ".."), check=True)
    image = os.path.join(SHARED, "images", "cat_dog.png")
    results = []
    if WHICH == "pytorch-grad-cam":
        weights = os.path.join(REF, "vgg16.pth")
        go = [binary, "explain", "--model", "vgg16", "--weights", weights, "--image", image, "--method", "gradcam",
              "--class", "243", "--layer", "features.29", "--out", tmp]
        py = ["/usr/bin/python3", os.path.join(HERE, "peer_explain.py"), SHARED, "vgg16", weights, image,
              "features.29", "243", os.path.join(tmp, "peer.png")]
        results.append({"model": "vgg16", "method": "gradcam", "library": "pytorch-grad-cam", **compare(go, py)})
    else:
        weights = os.path.join(REF, "resnet50.pth")
        for method, flag, n in (("saliency", None, 0), ("integrated-gradients", "--ig-steps", 50),
                                ("smoothgrad", "--smooth-samples", 25)):
            go = [binary, "explain", "--model", "resnet50", "--weights", weights, "--image", image,
                  "--method", method, "--class", "243", "--out", tmp] + ([flag, str(n)] if flag else [])
            py = ["/usr/bin/python3", os.path.join(HERE, "peer_attribute.py"), SHARED, "resnet50", weights, image,
                  "243", method, str(n), os.path.join(tmp, "peer.png")]
            r = {"model": "resnet50", "method": method, "library": "Captum", **compare(go, py)}
            print(json.dumps(r), flush=True)
            results.append(r)
    json.dump(results, open(OUT, "w"), indent=1)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
