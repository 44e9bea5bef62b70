#!/usr/bin/python3
"""Formats bench/RESULTS.md from the Go benchmark output and PyTorch's timings.
Usage: report.py GO_BENCH.txt TORCH.json [TORCH.json...] > RESULTS.md"""
import glob
import json
import os
import platform
import re
import subprocess
import sys

import torch


def ratio(x):
    """Formats a time ratio with two significant digits below 0.1 (Ablation-CAM is ~0.005x)."""
    return f"{x:.2g}x" if x < 0.1 else f"{x:.1f}x"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return ""


def main():
    go = {}
    line = re.compile(r"^BenchmarkExplain/(\S+)/(\S+)/b(\d+)/(first|steady)-\d+\s+\d+\s+(\d+) ns/op\s+([\d.]+) images/s\s+([\d.e+]+) peak-bytes")
    for l in open(sys.argv[1]):
        m = line.match(l)
        if m:
            model, method, batch, phase, ns, ips, peak = m.groups()
            go[(model, method, int(batch), phase)] = (int(ns) / 1e9, float(peak))
    torch_t = {}
    for path in sys.argv[2:]:  # later files override earlier ones
        for r in json.load(open(path)):
            torch_t[(r["model"], r["method"], r["batch"])] = r["seconds"]

    cpu = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    mem = sh("free -g | awk '/Mem:/{print $2}'")
    print("# Speed and memory: Go (GoMLX pure-Go backend) vs PyTorch on the same machine\n")
    print(f"Machine: {cpu}, {os.cpu_count()} cores, {mem} GiB; {sh('go version')}; "
          f"PyTorch {torch.__version__} CPU ({os.cpu_count()} threads, set by torch_bench.py); backend GOMLX_BACKEND=go, "
          "float32 matrix multiplies on internal/sgemm's AVX2/FMA kernels.")
    print("Written by `bench/report.py` from `bench/compare.sh` or `bench/run_session.sh` runs "
          "(Go: `go test ./gradcam -bench Explain`, 2 iterations, occlusion 1 in `run_session.sh`; "
          "PyTorch: `bench/torch_bench.py`, median of 3-10 runs after 3 warm-up calls). Times in seconds per call "
          "(a call explains the whole batch); *first* = new explainer: graph build + compilation + one run; "
          "peak = the process's peak resident memory during the benchmark.\n")
    print("| model | method | batch | Go first | Go steady | Go images/s | Go peak MB | PyTorch | Go/PyTorch |")
    print("|---|---|---|---|---|---|---|---|---|")
    keys = sorted({k[:3] for k in go}, key=lambda k: (k[0], k[2], k[1]))
    for model, method, batch in keys:
        first = go.get((model, method, batch, "first"), (float("nan"), 0))[0]
        steady, peak = go.get((model, method, batch, "steady"), (float("nan"), 0))
        pt = torch_t.get((model, method, batch))
        ratio = f"{steady / pt:.1f}x" if pt else "-"
        pts = f"{pt:.3f}" if pt else "-"
        print(f"| {model} | {method} | {batch} | {first:.2f} | {steady:.2f} | {batch / steady:.2f} | {peak / 1e6:.0f} | {pts} | {ratio} |")

    def s(model, method, batch=1, phase="steady"):
        return go.get((model, method, batch, phase), (float("nan"), 0))[0]

    def t(model, method, batch=1):
        return torch_t.get((model, method, batch), float("nan"))

    print("\n## Targets (batch 1, steady state, pure-Go backend)\n")
    print("| target | measured | met |")
    print("|---|---|---|")
    rows = [
        ("resnet50 Grad-CAM <= 1.0 s", s("resnet50", "gradcam"), s("resnet50", "gradcam") <= 1.0),
        ("resnet50 Grad-CAM <= 5x pytorch-grad-cam", s("resnet50", "gradcam") / t("resnet50", "gradcam"),
         s("resnet50", "gradcam") / t("resnet50", "gradcam") <= 5),
        ("vgg16 Grad-CAM <= 3 s", s("vgg16", "gradcam"), s("vgg16", "gradcam") <= 3),
    ]
    for m in ("resnet18", "resnet50", "vgg16", "alexnet", "mobilenet_v2"):
        if (m, "gradcam", 1, "steady") in go:
            r = s(m, "guided-gradcam") / s(m, "gradcam")
            rows.append((f"{m} Guided Grad-CAM <= 1.5x Grad-CAM", r, r <= 1.5))
    for m in ("resnet18", "resnet50", "mobilenet_v2"):
        if (m, "gradcam+gb+cam-2classes", 1, "steady") in go:
            r = s(m, "gradcam+gb+cam-2classes") / s(m, "gradcam")
            rows.append((f"{m} Grad-CAM + GB + CAM, 2 classes, one call <= 1.5x one Grad-CAM", r, r <= 1.5))
    for m in ("resnet18", "resnet50", "vgg16", "alexnet", "mobilenet_v2"):
        if (m, "gradcam", 1, "first") in go:
            r = s(m, "gradcam", 1, "first") / s(m, "gradcam")
            rows.append((f"{m} Grad-CAM first call <= 2x steady", r, r <= 2))
    peak = go.get(("resnet50", "guided-gradcam", 1, "steady"), (0, float("nan")))[1] / 1e9
    rows.append(("resnet50 Guided Grad-CAM peak memory <= 1.5 GB", peak, peak <= 1.5))
    for name, v, ok in rows:
        print(f"| {name} | {v:.2f} | {'yes' if ok else '**no**'} |")
    methods_section(os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
    if os.path.exists(notes):
        print("\n" + open(notes).read())


def methods_section(out):
    """Every method at batch 1 against its reference library, from bench/methods.sh's outputs."""
    go_paths = sorted(glob.glob(os.path.join(out, "methods_go*.txt")), key=os.path.getmtime)
    ref_paths = sorted(glob.glob(os.path.join(out, "methods_peers*.json")), key=os.path.getmtime)
    if not go_paths:
        return
    line = re.compile(r"^BenchmarkMethods/(\S+?)/(\S+?)-\d+\s+\d+\s+(\d+) ns/op(?:\s+([\d.]+) first-s)?")
    go = {}
    for path in go_paths:
        for l in open(path):
            m = line.match(l)
            if m:
                model, method, ns, first = m.groups()
                go[(model, method)] = (int(ns) / 1e9, float(first) if first else None)
    ref = {}
    for path in ref_paths:
        ref.update({(r["model"], r["method"]): r for r in json.load(open(path))})
    print("\n## Every method at batch 1 against its reference library\n")
    print("Written from `bench/methods.sh`: `go test ./gradcam -bench Methods` (one class, steady state: "
          "the graphs compiled by a first call, whose time is *Go first*; Score-CAM, occlusion, Integrated "
          "Gradients and SmoothGrad run once, compilation included) and `bench/peers_bench.py`, the reference libraries' own code on the same checkpoints, "
          "image and class (median of 3 runs after a warm-up; one run for Score-CAM, Ablation-CAM and FullGrad). "
          "CAM and counterfactual Grad-CAM have no reference implementation there. "
          "Ablation-CAM is 40-200x faster because each ablated copy starts from the layer's activations and runs only "
          "the layers after it (pytorch-grad-cam runs the whole network per batch of ablated channels); On ResNet-50's "
          "53 BatchNorm layers, FullGrad here takes the bias gradients of all of them from one backward and sums their "
          "upsampled maps in the graph. "
          "The gradient attributions (saliency, guided backprop, deconvnet, Input x Gradient, SmoothGrad, IG) and "
          "occlusion pay the forward and full backward to the input, which is 3-10x slower than PyTorch's here: "
          "that is the speed issue's (#11) work.\n")
    print("| model | method | Go first | Go steady | reference | library | Go/reference |")
    print("|---|---|---|---|---|---|---|")
    for (model, method), (steady, first) in sorted(go.items()):
        r = ref.get((model, method))
        first_s = f"{first:.2f}" if first is not None else "-"
        if r:
            print(f"| {model} | {method} | {first_s} | {steady:.2f} | {r['seconds']:.2f} | {r['library']} | "
                  f"{ratio(steady / r['seconds'])} |")
        else:
            print(f"| {model} | {method} | {first_s} | {steady:.2f} | - | - | - |")


if __name__ == "__main__":
    main()
