#!/usr/bin/python3
"""The latency of one GoNB cell a notebook user runs: load VGG-16 and show one Grad-CAM overlay.
Every GoNB cell is a new process, so each one compiles, loads the model, explains and renders.
The cell prints its own load, explain and render times; compile is the rest of the cell's wall
time (GoNB's build of the cell's program, process start, reading the image). The cell runs 4
times in one kernel; the first pays the Go build cache's misses, the median of the last 3 is
what a user waits for each later cell.

Usage: cell.py REPO VGG16_CHECKPOINT IMAGE OUT.json [LABEL]
REPO is the checkout whose code the cell uses (a worktree of an older commit measures "before").
"""
import json
import os
import statistics
import sys
import time

import nbformat
from nbclient import NotebookClient

REPO, WEIGHTS, IMAGE, OUT = sys.argv[1:5]
LABEL = sys.argv[5] if len(sys.argv) > 5 else "after"

SETUP = "!*go mod edit -replace github.com/gradcam-go/gradcam=${GONB_DIR}/.. " \
        "-require github.com/gradcam-go/gradcam@v0.0.0-00010101000000-000000000000"
IMPORTS = """import (
	"fmt"
	"os"
	"time"

	"github.com/gradcam-go/gradcam/gradcam"
	"github.com/gradcam-go/gradcam/notebook"
)"""
# What a notebook's first cell does (notebook 01's, with the checkpoint given): load the model,
# read the picture, explain and show it. The explain and render times are timed together, as
# notebook.Explain does both.
CELL = """%%
t0 := time.Now()
m := notebook.Load("vgg16", os.Getenv("BENCH_VGG16"))
t1 := time.Now()
b := notebook.Images(m, os.Getenv("BENCH_IMAGE"))
notebook.Explain(m, b, gradcam.Request{Methods: []gradcam.Method{gradcam.GradCAM}, Classes: []int{243}})
t2 := time.Now()
fmt.Printf("TIMING %.3f %.3f %.3f\\n", t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), 0.0)"""


def main():
    os.environ.update(BENCH_VGG16=os.path.abspath(WEIGHTS), BENCH_IMAGE=os.path.abspath(IMAGE))
    nb = nbformat.v4.new_notebook()
    runs = 4
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(IMPORTS)] + \
        [nbformat.v4.new_code_cell(CELL) for _ in range(runs)]
    bench_dir = os.path.join(os.path.abspath(REPO), "bench")
    client = NotebookClient(nb, kernel_name="gonb", timeout=900, resources={"metadata": {"path": bench_dir}})
    rows = []
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            t = time.perf_counter()
            client.execute_cell(cell, i)
            wall = time.perf_counter() - t
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors or "panic" in text:
                sys.exit(f"cell {i} failed: {text[-2000:]} {errors}")
            if i < 2:
                continue
            line = [l for l in text.splitlines() if l.startswith("TIMING ")]
            if not line:
                sys.exit(f"cell {i} printed no timing: {text[-2000:]}")
            load, explain, render = map(float, line[0].split()[1:])
            rows.append({"wall": wall, "load": load, "explain": explain, "render": render,
                         "compile": wall - load - explain - render})
            print(json.dumps(rows[-1]), flush=True)
    later = rows[1:]
    result = {"label": LABEL, "first": rows[0],
              "median": {k: statistics.median(r[k] for r in later) for k in later[0]}}
    print(json.dumps(result), flush=True)
    results = json.load(open(OUT)) if os.path.exists(OUT) else []
    results = [r for r in results if r["label"] != LABEL] + [result]
    json.dump(results, open(OUT, "w"), indent=1)


if __name__ == "__main__":
    main()
