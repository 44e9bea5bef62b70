#!/usr/bin/python3
"""Formats bench/RESULTS.md from the Go benchmark output and PyTorch's timings.
Usage: report.py GO_BENCH.txt TORCH.json [TORCH.json...] > RESULTS.md"""
import glob
import csv
import json
import os
import platform
import re
import statistics
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


TARGET_MODELS = ("resnet50", "vgg16", "mobilenet_v2")
TARGET_METHODS = ("forward", "gradcam", "guided-gradcam")


def main():
    go, torch_t = read_matrix(sys.argv[1], sys.argv[2:])
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")

    # The machine the explanation matrix was measured on (go test's cpu line), not the one writing this.
    cpu = go_cpu(sys.argv[1]) or sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
    mem = sh("free -g | awk '/Mem:/{print $2}'")
    print("# Speed and memory: Go (GoMLX pure-Go backend) vs PyTorch on the same machine\n")
    print(f"Machine: {cpu}, {os.cpu_count()} cores, {mem} GiB; {sh('go version')}; "
          f"PyTorch {torch.__version__} CPU ({os.cpu_count()} threads, set by torch_bench.py); backend GOMLX_BACKEND=go, "
          "convolutions, matrix multiplies, element-wise ops, comparisons, broadcasts and slices on backend/internal/fastdot "
          "(backend/internal/sgemm's kernels: AVX-512 for the matrix multiply where the CPU has it, as here, AVX2/FMA "
          "elsewhere).\n")
    print("Written by `bench/report.py` from `bench/compare.sh` (Go: `go test ./gradcam -bench Explain`, one process per model, 2 iterations a run after 3 warm-up calls, the median of 3 runs; "
          "PyTorch: `bench/torch_bench.py`, median of 3-10 runs after 3 warm-up calls). Times in seconds per call "
          "(a call explains the whole batch); *first* = new explainer: graph build + compilation + one run; "
          "peak = the process's peak resident memory during the benchmark. Two PyTorch columns: *efficient* is what "
          "a careful PyTorch user writes (frozen parameters, Grad-CAM's backward only down to the layer, Guided "
          "Grad-CAM from one forward: see torch_bench.py); *pytorch-grad-cam* is the peer itself (its GradCAM runs a "
          "full backward; its GuidedBackpropReLUModel explains one image per call). The target (issue 11) is Go "
          "within 3x of the efficient implementation for the forward pass, Grad-CAM and Guided Grad-CAM on "
          "ResNet-50, VGG-16 and MobileNetV2 at batch 1 and 8.\n")
    print("| model | method | batch | Go first | Go steady | Go peak MB | PyTorch efficient | pytorch-grad-cam | "
          "Go/efficient | Go/pytorch-grad-cam | target | met |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    keys = sorted({k[:3] for k in go}, key=lambda k: (k[0], k[2], k[1]))
    for model, method, batch in keys:
        first = go.get((model, method, batch, "first"), (float("nan"), 0))[0]
        steady, peak = go.get((model, method, batch, "steady"), (float("nan"), 0))
        eff = torch_t.get((model, method, batch, "efficient"))
        peer = torch_t.get((model, method, batch, "pytorch-grad-cam"))
        target, met = "-", "-"
        if model in TARGET_MODELS and method in TARGET_METHODS:
            target = "<= 3x efficient"
            met = ("yes" if steady / eff <= 3 else "**no**") if eff else "?"
        print(f"| {model} | {method} | {batch} | {first:.2f} | {steady:.3f} | {peak / 1e6:.0f} | "
              f"{f'{eff:.3f}' if eff else '-'} | {f'{peer:.3f}' if peer else '-'} | "
              f"{ratio(steady / eff) if eff else '-'} | {ratio(steady / peer) if peer else '-'} | {target} | {met} |")
    avx2_section(out)
    load_section(os.path.join(out, "load.json"))
    train_section(out)
    cell_section(os.path.join(out, "cell.json"))
    process_section([os.path.join(out, "process.json"), os.path.join(out, "process_captum.json")])
    memory_section(os.path.join(out, "memory.json"))
    pipeline_section(os.path.join(out, "pipeline.tsv"))
    methods_section(out)
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md")
    if os.path.exists(notes):
        print("\n" + open(notes).read())


def read_matrix(go_path, torch_paths):
    """The explanation matrix: Go's {(model, method, batch, phase): (median s, median peak bytes)}
    from go test's output (compare.sh: -count 3), and PyTorch's {(model, method, batch, impl): s}
    from torch_bench.py's files, later files overriding earlier ones."""
    runs = {}
    line = re.compile(r"^BenchmarkExplain/(\S+)/(\S+)/b(\d+)/(first|steady)-\d+\s+\d+\s+(\d+) ns/op\s+([\d.]+) images/s\s+([\d.e+]+) peak-bytes")
    for l in open(go_path):
        m = line.match(l)
        if m:
            model, method, batch, phase, ns, ips, peak = m.groups()
            runs.setdefault((model, method, int(batch), phase), []).append((int(ns) / 1e9, float(peak)))
    go = {k: (statistics.median(s for s, _ in v), statistics.median(p for _, p in v)) for k, v in runs.items()}
    torch_t = {}
    for path in torch_paths:
        for r in json.load(open(path)):
            torch_t[(r["model"], r["method"], r["batch"], r.get("impl", "efficient"))] = r["seconds"]
    return go, torch_t


def avx2_section(out):
    """The same matrix measured on a machine without AVX-512 (bench/out/avx2), where the register
    kernel is sgemm's AVX2 one (6 x 16) and nothing is read in place."""
    go_path, torch_path = os.path.join(out, "avx2", "go.txt"), os.path.join(out, "avx2", "torch.json")
    if not (os.path.exists(go_path) and os.path.exists(torch_path)):
        return
    go, torch_t = read_matrix(go_path, [torch_path])
    commit = open(os.path.join(out, "avx2", "COMMIT")).read().strip() if os.path.exists(os.path.join(out, "avx2", "COMMIT")) else "?"
    print("\n## The matrix on a machine without AVX-512\n")
    print(f"Machine: {go_cpu(go_path)} (AVX2 and FMA, no AVX-512: sgemm's 6 x 16 register kernel, every operand packed), "
          f"2 cores, a shared host whose speed varies more than the first machine's; Go at {commit}. The same commands "
          "(`bash bench/compare.sh MODELS go`, then `torch_bench.py .cache/models-ref ../shared OUT MODELS 1,8`), their "
          "outputs kept in bench/out/avx2. Times in seconds per call, steady state; rows of the first table's targets "
          "(forward, CAM and the CAM family against efficient PyTorch) marked.\n")
    print("| model | method | batch | Go steady | PyTorch efficient | pytorch-grad-cam | Go/efficient | Go/pytorch-grad-cam |")
    print("|---|---|---|---|---|---|---|---|")
    for model, method, batch in sorted({k[:3] for k in go}, key=lambda k: (k[0], k[2], k[1])):
        steady = go.get((model, method, batch, "steady"), (float("nan"), 0))[0]
        eff = torch_t.get((model, method, batch, "efficient"))
        peer = torch_t.get((model, method, batch, "pytorch-grad-cam"))
        r = ratio(steady / eff) if eff else "-"
        if eff and steady / eff > 1.05 and method in ("forward", "cam", "gradcam"):
            r = f"**{r}**"
        print(f"| {model} | {method} | {batch} | {steady:.3f} | {f'{eff:.3f}' if eff else '-'} | "
              f"{f'{peer:.3f}' if peer else '-'} | {r} | {ratio(steady / peer) if peer else '-'} |")


def load_section(path):
    if not os.path.exists(path):
        return
    print("\n## Loading a model in a fresh process (every GoNB cell does)\n")
    print("Written from `bench/load.py`: `bench/measure load` (Go) and `torch_bench.py load` (PyTorch: torchvision's "
          "constructor, `torch.load`, `load_state_dict`; Python's imports not counted), each in a new process, median "
          "of 3; peak = the process's peak resident memory. Random-weight checkpoints of the zoo's shapes. *checkpoint*: "
          "the .pth decoded (the load cache off); *cached*: the load cache's file, written by the first load. Targets: "
          "VGG-16 from the cache in <= 0.5 s with peak memory <= 1.3x its weights.\n")
    print("| checkpoint | weights MB | Go checkpoint s | Go checkpoint peak MB | Go cached s | Go cached peak MB | "
          "PyTorch s | PyTorch peak MB | target | met |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in json.load(open(path)):
        w, c, k, p = r["weights_mb"], r["go_checkpoint"], r["go_cached"], r["pytorch"]
        target, met = "-", "-"
        if r["model"].startswith("vgg16"):
            target = "cached <= 0.5 s, peak <= 1.3x weights"
            met = "yes" if k["load_s"] <= 0.5 and k["peak_mb"] <= 1.3 * w else "**no**"
        print(f"| {r['model']} | {w:.0f} | {c['load_s']:.2f} | {c['peak_mb']:.0f} | {k['load_s']:.2f} | "
              f"{k['peak_mb']:.0f} | {p['load_s']:.2f} | {p['peak_mb']:.0f} | {target} | {met} |")


def go_cpu(path):
    """The cpu line of a go test benchmark output, or ""."""
    if not os.path.exists(path):
        return ""
    m = re.search(r"^cpu: (.+)$", open(path).read(), re.M)
    return m.group(1).strip() if m else ""


def step_seconds(path, bench):
    """The s/step a Go training benchmark reported, or None."""
    if not os.path.exists(path):
        return None
    m = re.search(r"Benchmark" + bench + r"\S*\s+\d+\s+\d+ ns/op\s+([\d.]+) s/step", open(path).read())
    return float(m.group(1)) if m else None


def train_section(out):
    rows = []
    for name, bench, go_file, torch_file, what in [
            ("fashion-gap", "TrainStep", "train_go.txt", "train_torch.json",
             "the Fashion-MNIST demo CNN, batch 64 of 1x64x64, every layer trained"),
            ("mobilenet_v2, backbone frozen", "FinetuneStep", "finetune_go.txt", "finetune_torch.json",
             "`gradcam finetune`'s default: a new 10-class head on MobileNetV2, batch 16 of 3x224x224")]:
        go_s = step_seconds(os.path.join(out, go_file), bench)
        tp = os.path.join(out, torch_file)
        if go_s is None or not os.path.exists(tp):
            continue
        rows.append((name, what, go_s, json.load(open(tp))[0]["seconds"]))
    if not rows:
        return
    print("\n## Training step\n")
    print("Written from `bench/train.sh`: `go test ./pretrained/fashion -bench TrainStep` and "
          "`go test ./train -bench FinetuneStep` (each the difference between Fit runs of two lengths, per "
          "step) against `torch_bench.py train` and `finetune` (median of 30 and 10 steps after warm-up), Adam; "
          f"measured on {go_cpu(os.path.join(out, 'train_go.txt')) or 'this machine'}, {os.cpu_count()} cores. "
          "Target (issue 33): within 1.5x PyTorch's step.\n")
    print("| network | what trains | Go s/step | PyTorch s/step | Go/PyTorch | target | met |")
    print("|---|---|---|---|---|---|---|")
    for name, what, go_s, pt in rows:
        met = "yes" if go_s / pt <= 1.5 else "**no**"
        print(f"| {name} | {what} | {go_s:.4f} | {pt:.4f} | {ratio(go_s / pt)} | <= 1.5x | {met} |")
    retrain_section(os.path.join(out, "retrain.tsv"))


def retrain_section(path):
    if not os.path.exists(path):
        return
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    print("\n### The shipped models' retrain commands\n")
    print("Each command as a whole process (`bench/train.sh retrain`: built first, checkpoints written to a "
          "scratch folder), `/usr/bin/time`: *cores busy* is CPU time (user + system) over wall time, 2 at "
          "most on this machine.\n")
    print("| command | wall s | CPU s | cores busy | peak MB | measured |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        wall, cpu = float(r["wall_s"]), float(r["user_s"]) + float(r["sys_s"])
        print(f"| `{r['command']}` | {wall:.0f} | {cpu:.0f} | {cpu / wall:.2f} | {r['peak_mb']} | {r['measured']} |")


def cell_section(path):
    if not os.path.exists(path):
        return
    print("\n## A GoNB cell: load VGG-16, show one Grad-CAM overlay\n")
    print("Written from `bench/cell.py`: the cell run 4 times in one GoNB kernel, the toolkit's packages in the "
          "build cache (kernelspec/install.sh compiles them); *first* is the first run, the others' median is "
          "what each later cell costs. *before*: the same cell on the commit before issue 11's work (c36261b); "
          "*issue 11*: after it; *issue 33*: cells linked without symbol table (-ldflags=-s) and without XLA's "
          "cgo bindings (backend/xla, linked only with the kernel's xla tag), every display waiting for GoNB. "
          "Compile = the cell's wall time minus what it timed itself (GoNB's build, process start, reading the "
          "image); the issue-33 cell times explaining and showing together (notebook.Explain). Targets: a later "
          "cell <= 3 s (issue 11), the first cell < 2 s (issue 33).\n")
    print("| code | run | compile s | load s | explain s | render s | whole cell s | target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in json.load(open(path)):
        for run in ("first", "median"):
            v = r[run]
            if run == "median":
                target, met = "<= 3 s", "yes" if v["wall"] <= 3 else "**no**"
            elif r["label"].startswith("issue 33"):
                target, met = "< 2 s", "yes" if v["wall"] < 2 else "**no**"
            else:
                target, met = "-", "-"
            print(f"| {r['label']} | {'first' if run == 'first' else 'later (median)'} | {v['compile']:.2f} | "
                  f"{v['load']:.2f} | {v['explain']:.2f} | {v['render']:.2f} | {v['wall']:.2f} | {target} | {met} |")


def process_section(paths):
    rows = []
    for path in paths:
        if os.path.exists(path):
            r = json.load(open(path))
            if isinstance(r, dict):  # the first version's format: one pytorch-grad-cam comparison
                r = [{"model": "vgg16", "method": "gradcam", "library": "pytorch-grad-cam", "go": r["go"],
                      "peer": r["pytorch-grad-cam"]}]
            rows += r
    if not rows:
        return
    print("\n## `gradcam explain` as a whole process\n")
    print("Written from `bench/process.py`: `gradcam explain` against the same work in the reference library as "
          "its README or tutorials show it, class 243 on cat_dog.png, the picture written as a PNG: pytorch-grad-cam "
          "(`bench/peer_explain.py`: Python start, imports, model, checkpoint, GradCAM, show_cam_on_image) and "
          "Captum (`bench/peer_attribute.py`: imports, model, checkpoint, the method's attribute(), "
          "captum.attr.visualization). Integrated Gradients with 50 steps, SmoothGrad with 25 samples. Runs "
          f"alternate; median of {rows[0]['go']['runs']} each after a warm-up pair; peak memory from one more run of "
          "each. Target: Go no slower.\n")
    print("| model | method | library | Go wall s | library wall s | Go peak MB | library peak MB | Go/library | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        go, peer = r["go"], r["peer"]
        ok = go["wall_s"] <= peer["wall_s"]
        print(f"| {r['model']} | {r['method']} | {r['library']} | {go['wall_s']:.2f} | {peer['wall_s']:.2f} | "
              f"{go['peak_mb']:.0f} | {peer['peak_mb']:.0f} | {ratio(go['wall_s'] / peer['wall_s'])} | "
              f"{'yes' if ok else '**no**'} |")


def memory_section(path):
    if not os.path.exists(path):
        return
    print("\n## Notebook 01 on VGG-16: peak memory\n")
    print("Written from `bench/memory.sh`: notebook 01's heaviest cell (guided backprop, Grad-CAM, Guided Grad-CAM, "
          "occlusion and counterfactual Grad-CAM for two classes) as `bench/measure notebook01` on VGG-16, in a "
          "fresh process as GoNB runs a cell; peak = its maximum resident memory. The *before* row is the same "
          "program built on c36261b (its wall time was measured while the test suite ran: only its memory "
          "compares). Target: <= 2.5 GB.\n")
    print("| code | wall s | peak MB | target | met |")
    print("|---|---|---|---|---|")
    for r in json.load(open(path)):
        print(f"| {r['label']} | {r['wall_s']:.1f} | {r['peak_mb']:.0f} | <= 2500 MB | "
              f"{'yes' if r['peak_mb'] <= 2500 else '**no**'} |")


def methods_section(out):
    """Every method at batch 1 against its reference library, from bench/methods.sh's outputs."""
    header = re.compile(r"^# measured (\S+) at (\S+) on (.*)$")
    runs = []  # (date, path, measured)
    for path in glob.glob(os.path.join(out, "methods_go_*.txt")):
        first = open(path).readline()
        m = header.match(first)
        if not m:
            raise SystemExit(f"{path}: no '# measured DATE at COMMIT on CPU' first line (bench/methods.sh writes one)")
        runs.append((m.group(1), path, f"{m.group(1)} ({m.group(2)})"))
    if not runs:
        return
    runs.sort()
    line = re.compile(r"^BenchmarkMethods/(\S+?)/(\S+?)-\d+\s+\d+\s+(\d+) ns/op(?:\s+([\d.]+) first-s)?")
    go, ref, machines = {}, {}, {}
    for date, path, measured in runs:
        machines[measured] = header.match(open(path).readline()).group(3)
        for l in open(path):
            m = line.match(l)
            if m:
                model, method, ns, first = m.groups()
                go[(model, method)] = (int(ns) / 1e9, float(first) if first else None, measured)
        peers = path.replace("methods_go_", "methods_peers_").replace(".txt", ".json")
        if os.path.exists(peers):
            ref.update({(r["model"], r["method"]): r for r in json.load(open(peers))})
    print("\n## Every method at batch 1 against its reference library\n")
    print("Written from `bench/methods.sh`: `go test ./gradcam -bench Methods` (one class, steady state: "
          "the graphs compiled by a first call, whose time is *Go first*, then the mean of 3 calls; occlusion, "
          "Integrated Gradients, SmoothGrad, LIME and KernelSHAP one call after their first; Score-CAM once, "
          "compilation included) and `bench/peers_bench.py`, the reference libraries' own "
          "code on the same checkpoints, image and class, run right after it (median of 3 runs after a warm-up; "
          "one run for Score-CAM, Ablation-CAM and FullGrad). CAM, counterfactual Grad-CAM and RISE have no "
          "reference implementation there, nor `lrp` (the composite given in the request). "
          "Target (issues 31 and 33): Go at or under the reference (<= 1.0x). Each row says when it was measured; "
          "the machines:\n")
    for measured, machine in machines.items():
        print(f"- {measured}: {machine}")
    print()
    print("| model | method | Go first | Go steady | reference | library | Go/reference | met | measured |")
    print("|---|---|---|---|---|---|---|---|---|")
    met = total = 0
    for (model, method), (steady, first, measured) in sorted(go.items()):
        r = ref.get((model, method))
        first_s = f"{first:.2f}" if first is not None else "-"
        if r:
            ok = steady <= r["seconds"]
            met, total = met + ok, total + 1
            print(f"| {model} | {method} | {first_s} | {steady:.2f} | {r['seconds']:.2f} | {r['library']} | "
                  f"{ratio(steady / r['seconds'])} | {'yes' if ok else '**no**'} | {measured} |")
        else:
            print(f"| {model} | {method} | {first_s} | {steady:.2f} | - | - | - | - | {measured} |")
    print(f"\nAt or under the reference: {met} of {total} rows (bench/NOTES.md: where the time goes in the others).")



def pipeline_section(path):
    """gradcam evaluate's images per second, 1 and 2 workers (bench/pipeline.sh)."""
    if not os.path.exists(path):
        return
    lines = open(path).read().splitlines()
    if not lines or not lines[0].startswith("# measured"):
        sys.exit(f"{path}: the first line must say when it was measured (# measured ...)")
    rows = {}
    for l in lines[2:]:
        model, method, workers, images, seconds, rate = l.split("\t")
        rows.setdefault((model, method), {})[int(workers)] = (int(images), float(seconds), float(rate))
    print("\n## `gradcam evaluate`: images per second, 1 and 2 workers\n")
    print(f"Written from `bench/pipeline.sh` ({lines[0][2:]}): the whole process (model and data loading included) "
          "on the local Beam runner, one method per run, into a fresh folder; `--workers N` measures N batches at "
          "once, each with its own copy of the model. The demo network: the first cluttered Fashion-MNIST items "
          "with docs/table1's metrics (classification and localization error, pointing game, deletion and "
          "insertion AUC, average drop, increase in confidence); MobileNetV2: ../shared/images with "
          "docs/table1/imagenet's (deletion, insertion, average drop, increase in confidence), `--batch 1` so that "
          "two workers have two batches. README (Evaluation as a pipeline) estimates ImageNet's validation set "
          "from these rows.\n")
    print("| model | method | images | 1 worker, s | images/s | 2 workers, s | images/s | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for (model, method), w in rows.items():
        one, two = w.get(1), w.get(2)
        if not one or not two:
            continue
        print(f"| {model} | {method} | {one[0]} | {one[1]:.1f} | {one[2]:.2f} | {two[1]:.1f} | {two[2]:.2f} | "
              f"{one[1] / two[1]:.2f}x |")


if __name__ == "__main__":
    main()
