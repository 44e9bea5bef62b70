#!/usr/bin/python3
"""PyTorch side of bench/compare.sh: the same work as gradcam's BenchmarkExplain, timed with
Debian's python3-torch on this machine. Grad-CAM is pytorch-grad-cam's algorithm written out
(forward with hooks on the target layer, model.zero_grad(), full backward() from the summed
target logits, alpha = spatial mean of the gradients, ReLU(sum alpha A), min-max normalize,
resize to 224); guided backprop replaces every ReLU/ReLU6 by the guided rule and backpropagates
to the input; occlusion runs 49 patches (56 px, stride 28) in batches of 16 (Go's default is 7 per forward; the work, 49 forwards, is the same).

Usage: torch_bench.py MODELS_REF SHARED OUT.json MODEL[,MODEL...] BATCH[,BATCH...] [METHOD,...]
Prints one JSON object per line as it goes; writes all of them to OUT.json.
"""
import copy
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gradcam", "testdata"))
from reference import replace_relus  # noqa: E402

LAYERS = {"resnet18": "layer4", "resnet50": "layer4", "vgg16": "features.29", "alexnet": "features.11",
          "mobilenet_v2": "features.18"}
CAM_WEIGHT = {"resnet18": "fc.weight", "resnet50": "fc.weight", "mobilenet_v2": "classifier.1.weight"}
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def guided_copy(model):
    """A copy of the model whose ReLUs and ReLU6s backpropagate by the guided rule (the same
    RuleReLU the explanation reference uses)."""
    m = copy.deepcopy(model)
    replace_relus(m, {"rule": "guided"})
    return m


def images(shared, n):
    names = ["cat_dog.png", "snake.png", "spider.png", "egyptian_cat.png"]
    out = []
    for i in range(n):
        img = Image.open(os.path.join(shared, "images", names[i % 4])).convert("RGB").resize((224, 224), Image.BILINEAR)
        out.append(((np.asarray(img, dtype=np.float32) / 255 - MEAN) / STD).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


def scale(cam):
    cam = cam - cam.amin((1, 2), keepdim=True)
    cam = cam / (1e-7 + cam.amax((1, 2), keepdim=True))
    return F.interpolate(cam[:, None], size=(224, 224), mode="bilinear", align_corners=False)[:, 0]


class Explainer:
    def __init__(self, model, layer):
        self.model, self.store = model, {}
        module = dict(model.named_modules())[layer]

        def hook(m, i, o):
            self.store["A"] = o
            if o.requires_grad:
                o.register_hook(lambda g: self.store.__setitem__("dA", g))
        module.register_forward_hook(hook)

    def gradcam(self, x, classes, guided=None):
        # pytorch-grad-cam: full backward from the summed target logits.
        x = x.clone().requires_grad_(guided is not None)
        out = self.model(x)
        self.model.zero_grad()
        cams = []
        for k, c in enumerate(classes):
            loss = out[:, c].sum()
            loss.backward(retain_graph=k < len(classes) - 1)
            A, dA = self.store["A"], self.store["dA"]
            alpha = dA.mean((2, 3), keepdim=True)
            cams.append(scale(torch.relu((alpha * A).sum(1)).detach()))
        return cams


def run(kind, model, gmodel, ex, x, classes, arch, sd):
    if kind == "forward":
        with torch.no_grad():
            model(x)
    elif kind == "gradcam":
        ex.gradcam(x, classes)
    elif kind in ("guided-backprop", "guided-gradcam", "gradcam+gb+cam-2classes"):
        cams = ex.gradcam(x, classes) if kind != "guided-backprop" else None
        for c in classes:
            xg = x.clone().requires_grad_(True)
            gmodel(xg)[:, c].sum().backward()
            g = xg.grad
            if kind == "guided-gradcam":
                g = g * cams[0][:, None]
        if kind == "gradcam+gb+cam-2classes":
            with torch.no_grad():
                A = ex.store["A"].detach()
                for c in classes:
                    scale((sd[CAM_WEIGHT[arch]][c][None, :, None, None] * A).sum(1))
    elif kind == "cam":
        with torch.no_grad():
            model(x)
            A = ex.store["A"]
            scale(torch.relu((sd[CAM_WEIGHT[arch]][classes[0]][None, :, None, None] * A).sum(1)))
    elif kind == "occlusion":
        with torch.no_grad():
            base = model(x)[:, classes[0]]
            pos = list(range(0, 224 - 56, 28)) + [224 - 56]
            wins = [(a, b) for a in pos for b in pos]
            for i in range(x.shape[0]):
                for s in range(0, len(wins), 16):
                    chunk = wins[s:s + 16]
                    xb = x[i:i + 1].repeat(len(chunk), 1, 1, 1)
                    for j, (a, b) in enumerate(chunk):
                        xb[j, :, a:a + 56, b:b + 56] = 0
                    base[i] - model(xb)[:, classes[0]]


def main():
    models_ref, shared, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    archs, batches = sys.argv[4].split(","), [int(b) for b in sys.argv[5].split(",")]
    torch.set_num_threads(os.cpu_count() or 1)
    results = []
    for arch in archs:
        model = getattr(torchvision.models, arch)()
        path = os.path.join(shared, "weights", "mobilenet_v2_coral_dequant.pth") if arch == "mobilenet_v2" \
            else os.path.join(models_ref, arch + ".pth")
        model.load_state_dict(torch.load(path))
        model.eval()
        sd = model.state_dict()
        gmodel = guided_copy(model)
        ex = Explainer(model, LAYERS[arch])
        kinds = ["forward", "gradcam", "guided-backprop", "guided-gradcam", "occlusion"]
        if arch in CAM_WEIGHT:
            kinds[3:3] = ["cam", "gradcam+gb+cam-2classes"]
        if len(sys.argv) > 6:
            kinds = [k for k in kinds if k in sys.argv[6].split(",")]
        for batch in batches:
            x = images(shared, batch)
            for kind in kinds:
                classes = [243, 282] if "2classes" in kind else [243]
                for _ in range(3):  # warm up (oneDNN builds its primitives on the first calls)
                    run(kind, model, gmodel, ex, x, classes, arch, sd)
                times = []
                deadline = time.time() + 20
                while len(times) < 3 or (time.time() < deadline and len(times) < 10):
                    t = time.perf_counter()
                    run(kind, model, gmodel, ex, x, classes, arch, sd)
                    times.append(time.perf_counter() - t)
                r = {"model": arch, "method": kind, "batch": batch, "seconds": float(np.median(times)), "runs": len(times)}
                print(json.dumps(r), flush=True)
                results.append(r)
    json.dump(results, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
