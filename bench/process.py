#!/usr/bin/python3
"""`gradcam explain` as a whole process against the same work with pytorch-grad-cam
(bench/peer_explain.py): VGG-16, Grad-CAM of class 243 on cat_dog.png, the overlay written as
a PNG. Runs alternate (Go, Python, Go, ...) so that both see the same machine state; the first
pair warms the file cache (and fills the load cache); the median of the next 5 of each is
reported, with each process's peak memory.

Usage: process.py MODELS_REF SHARED OUT.json
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REF, SHARED, OUT = sys.argv[1:4]
HERE = os.path.dirname(os.path.abspath(__file__))


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def main():
    tmp = tempfile.mkdtemp(prefix="gradcam-process-")
    binary = os.path.join(tmp, "gradcam")
    subprocess.run(["go", "build", "-o", binary, "./cmd/gradcam"], cwd=os.path.join(HERE, ".."), check=True)
    weights, image = os.path.join(REF, "vgg16.pth"), os.path.join(SHARED, "images", "cat_dog.png")
    go = [binary, "explain", "--model", "vgg16", "--weights", weights, "--image", image, "--method", "gradcam",
          "--class", "243", "--layer", "features.29", "--out", tmp]
    py = ["/usr/bin/python3", os.path.join(HERE, "peer_explain.py"), SHARED, "vgg16", weights, image, "features.29",
          "243", os.path.join(tmp, "peer.png")]
    times = {"go": [], "pytorch-grad-cam": []}
    for i in range(6):
        for name, cmd in (("go", go), ("pytorch-grad-cam", py)):
            wall = timed(cmd)
            if i > 0:
                times[name].append(wall)
    # Peak memory, one more run of each measured alone with /usr/bin/time.
    peaks = {}
    for name, cmd in (("go", go), ("pytorch-grad-cam", py)):
        p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, check=True, capture_output=True, text=True)
        peaks[name] = int(p.stderr.strip().splitlines()[-1]) / 1024
    r = {k: {"wall_s": statistics.median(v), "runs": len(v), "peak_mb": peaks[k]} for k, v in times.items()}
    print(json.dumps(r), flush=True)
    json.dump(r, open(OUT, "w"), indent=1)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
