#!/usr/bin/python3
"""PyTorch side of bench/compare.sh: the same work as gradcam's BenchmarkExplain, timed with
Debian's python3-torch on this machine, two ways:

- "efficient": what a careful PyTorch user writes. Parameters frozen (no weight gradients);
  Grad-CAM backpropagates from the target logit to the layer only (the layer's output is made a
  leaf by its forward hook); guided backprop to the input; Guided Grad-CAM from one forward, a
  backward to the layer with plain ReLUs and one to the input with the guided rule (the ReLUs
  read the rule when backpropagating); CAM from one forward; occlusion in batches of 16 patches.
- "pytorch-grad-cam": the peer itself (../shared/peers): GradCAM for Grad-CAM (its full
  backward), GuidedBackpropReLUModel for guided backprop (one image per call, as it computes
  output[0]), their product for Guided Grad-CAM, as its cam.py does.

Usage: torch_bench.py MODELS_REF SHARED OUT.json MODEL[,MODEL...] BATCH[,BATCH...] [METHOD,...]
       torch_bench.py load ARCH CHECKPOINT        one load in this fresh process, as JSON
       torch_bench.py train OUT.json              Fashion-MNIST demo CNN training steps
       torch_bench.py finetune OUT.json           MobileNetV2 head fine-tuning steps, backbone frozen
Prints one JSON object per line as it goes; writes all of them to OUT.json.
"""
import time

START = time.perf_counter()

import copy  # noqa: E402
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image


LAYERS = {"resnet18": "layer4", "resnet50": "layer4", "vgg16": "features.29", "alexnet": "features.11",
          "mobilenet_v2": "features.18"}
CAM_WEIGHT = {"resnet18": "fc.weight", "resnet50": "fc.weight", "mobilenet_v2": "classifier.1.weight"}
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


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


class SwitchReLU(torch.autograd.Function):
    """ReLU (upper=None) or ReLU6 whose backward rule (backprop or guided) is read from state
    when backpropagating, so that one forward serves both rules."""

    @staticmethod
    def forward(ctx, x, upper, state):
        ctx.save_for_backward(x)
        ctx.upper, ctx.state = upper, state
        return x.clamp(min=0) if upper is None else x.clamp(0, upper)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        inside = x > 0
        if ctx.upper is not None:
            inside = inside & (x < ctx.upper)
        if ctx.state["rule"] == "guided":
            inside = inside & (g > 0)
        return g * inside, None, None


class SwitchModule(torch.nn.Module):
    def __init__(self, upper, state):
        super().__init__()
        self.upper, self.state = upper, state

    def forward(self, x):
        return SwitchReLU.apply(x, self.upper, self.state)


def switch_relus(module, state):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.ReLU6):
            setattr(module, name, SwitchModule(6.0, state))
        elif isinstance(child, torch.nn.ReLU):
            setattr(module, name, SwitchModule(None, state))
        else:
            switch_relus(child, state)


class Efficient:
    """The efficient implementation (see the module's doc)."""

    def __init__(self, model, layer, cam_weight):
        self.model = copy.deepcopy(model)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.state = {"rule": "backprop", "leaf": False}
        switch_relus(self.model, self.state)
        self.cam_weight, self.store = cam_weight, {}

        def hook(m, i, o):
            if self.state["leaf"]:  # Grad-CAM alone: the graph starts at the layer
                o = o.detach().requires_grad_(True)
            self.store["A"] = o
            return o
        dict(self.model.named_modules())[layer].register_forward_hook(hook)

    def forward(self, x):
        with torch.no_grad():
            return self.model(x)

    def gradcam(self, x, classes):
        self.state["leaf"] = True
        out = self.model(x)
        self.state["leaf"] = False
        A = self.store["A"]
        cams = []
        for k, c in enumerate(classes):
            (dA,) = torch.autograd.grad(out[:, c].sum(), A, retain_graph=k < len(classes) - 1)
            with torch.no_grad():
                cams.append(scale(torch.relu((dA.mean((2, 3), keepdim=True) * A).sum(1))))
        return cams

    def guided(self, x, classes, with_gradcam, with_cam=False):
        """Guided backprop for each class; with Grad-CAM (and CAM), from the same forward."""
        x = x.clone().requires_grad_(True)
        out = self.model(x)
        A = self.store["A"]
        results = []
        for c in classes:
            score = out[:, c].sum()
            cam = None
            if with_gradcam:
                self.state["rule"] = "backprop"
                (dA,) = torch.autograd.grad(score, A, retain_graph=True)
                with torch.no_grad():
                    cam = scale(torch.relu((dA.mean((2, 3), keepdim=True) * A).sum(1)))
            self.state["rule"] = "guided"
            (g,) = torch.autograd.grad(score, x, retain_graph=True)
            self.state["rule"] = "backprop"
            if cam is not None and not with_cam:
                g = g * cam[:, None]
            if with_cam:
                with torch.no_grad():
                    scale((self.cam_weight[c][None, :, None, None] * A).sum(1))
            results.append(g)
        return results

    def cam(self, x, classes):
        with torch.no_grad():
            self.model(x)
            A = self.store["A"]
            return [scale(torch.relu((self.cam_weight[c][None, :, None, None] * A).sum(1))) for c in classes]

    def occlusion(self, x, classes):
        with torch.no_grad():
            base = self.model(x)[:, classes[0]]
            pos = list(range(0, 224 - 56, 28)) + [224 - 56]
            wins = [(a, b) for a in pos for b in pos]
            for i in range(x.shape[0]):
                for s in range(0, len(wins), 16):
                    chunk = wins[s:s + 16]
                    xb = x[i:i + 1].repeat(len(chunk), 1, 1, 1)
                    for j, (a, b) in enumerate(chunk):
                        xb[j, :, a:a + 56, b:b + 56] = 0
                    base[i] - self.model(xb)[:, classes[0]]


class Peer:
    """pytorch-grad-cam itself, used as its README and cam.py use it."""

    def __init__(self, model, layer, shared):
        sys.path.insert(0, os.path.join(shared, "peers", "pytorch-grad-cam"))
        sys.path.insert(0, os.path.join(shared, "peers", "ttach"))
        import pytorch_grad_cam as pgc
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
        self.target = ClassifierOutputTarget
        self.cam = pgc.GradCAM(model=model, target_layers=[dict(model.named_modules())[layer]])
        # Its own copy: GuidedBackpropReLUModel swaps the ReLU modules for new ones after each
        # call, which would leave GradCAM's hooks on a VGG ReLU layer (features.29) on a module
        # no longer in the model.
        self.gb = pgc.GuidedBackpropReLUModel(model=copy.deepcopy(model), device="cpu")

    def gradcam(self, x, classes):
        return self.cam(input_tensor=x, targets=[self.target(classes[0])] * x.shape[0])

    def guided_backprop(self, x, classes):
        return [self.gb(x[i:i + 1], target_category=classes[0]) for i in range(x.shape[0])]

    def guided_gradcam(self, x, classes):
        cams = self.gradcam(x, classes)
        gbs = self.guided_backprop(x, classes)
        return [np.stack([c] * 3, axis=-1) * g for c, g in zip(cams, gbs)]


def run(kind, impl, e, x, classes):
    if impl == "pytorch-grad-cam":
        {"gradcam": e.gradcam, "guided-backprop": e.guided_backprop, "guided-gradcam": e.guided_gradcam}[kind](x, classes)
    elif kind == "forward":
        e.forward(x)
    elif kind == "gradcam":
        e.gradcam(x, classes)
    elif kind == "guided-backprop":
        e.guided(x, classes, with_gradcam=False)
    elif kind == "guided-gradcam":
        e.guided(x, classes, with_gradcam=True)
    elif kind == "gradcam+gb+cam-2classes":
        e.guided(x, classes, with_gradcam=True, with_cam=True)
    elif kind == "cam":
        e.cam(x, classes)
    elif kind == "occlusion":
        e.occlusion(x, classes)


def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0


def load(arch, path):
    """One load as a user's first cell pays it: build the architecture, read the checkpoint,
    load_state_dict. Times the imports apart."""
    t0 = time.perf_counter()
    model = getattr(torchvision.models, arch)()
    model.load_state_dict(torch.load(path))
    model.eval()
    t1 = time.perf_counter()
    print(json.dumps({"model": arch, "load_s": t1 - t0, "import_s": t0 - START, "peak_mb": peak_mb()}), flush=True)


def train(out_path):
    """Training steps of the Fashion-MNIST demo CNN (pretrained/fashion's fashion-gap: four
    conv-BN-ReLU blocks of 8, 16, 32, 32 channels, 2x2 max pooling after the first two, GAP,
    linear), Adam, batch 64 of 1x64x64, cross-entropy: median seconds per step."""
    torch.manual_seed(0)
    layers, c = [], 1
    for i, w in enumerate([8, 16, 32, 32]):
        layers += [torch.nn.Conv2d(c, w, 3, padding=1, bias=False), torch.nn.BatchNorm2d(w), torch.nn.ReLU()]
        if i < 2:
            layers.append(torch.nn.MaxPool2d(2))
        c = w
    model = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(c, 10))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    time_steps(out_path, "fashion-gap", model, opt, torch.randn(64, 1, 64, 64), torch.randint(0, 10, (64,)), 5, 30)


def finetune(out_path):
    """Steps of `gradcam finetune`'s default recipe (train.BenchmarkFinetuneStep): torchvision's
    MobileNetV2 with a new 10-class head, the backbone frozen (no gradients, run in eval mode as
    the Go side's frozen layers run at inference), batch 16 of 3x224x224, Adam: median seconds
    per step."""
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(num_classes=1000)
    model.classifier[1] = torch.nn.Linear(1280, 10)
    for p in model.features.parameters():
        p.requires_grad_(False)
    model.train()
    model.features.eval()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    time_steps(out_path, "mobilenet_v2-frozen", model, opt, torch.randn(16, 3, 224, 224), torch.randint(0, 10, (16,)), 3, 10)


def time_steps(out_path, name, model, opt, x, y, warmup, runs):
    """Times cross-entropy training steps of model on one batch: the median of runs after warmup,
    printed and written to out_path as one row."""
    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    r = [{"model": name, "method": "train-step", "batch": len(x), "impl": "efficient",
          "seconds": float(np.median(times)), "runs": len(times)}]
    print(json.dumps(r[0]), flush=True)
    json.dump(r, open(out_path, "w"), indent=1)


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    if sys.argv[1] == "load":
        return load(sys.argv[2], sys.argv[3])
    if sys.argv[1] == "train":
        return train(sys.argv[2])
    if sys.argv[1] == "finetune":
        return finetune(sys.argv[2])
    models_ref, shared, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
    archs, batches = sys.argv[4].split(","), [int(b) for b in sys.argv[5].split(",")]
    results = []
    for arch in archs:
        model = getattr(torchvision.models, arch)()
        path = os.path.join(shared, "weights", "mobilenet_v2_coral_dequant.pth") if arch == "mobilenet_v2" \
            else os.path.join(models_ref, arch + ".pth")
        model.load_state_dict(torch.load(path))
        model.eval()
        sd = model.state_dict()
        cam_weight = sd[CAM_WEIGHT[arch]] if arch in CAM_WEIGHT else None
        impls = {"efficient": Efficient(model, LAYERS[arch], cam_weight), "pytorch-grad-cam": Peer(model, LAYERS[arch], shared)}
        kinds = ["forward", "gradcam", "guided-backprop", "guided-gradcam", "occlusion"]
        if arch in CAM_WEIGHT:
            kinds[3:3] = ["cam", "gradcam+gb+cam-2classes"]
        if len(sys.argv) > 6:
            kinds = [k for k in kinds if k in sys.argv[6].split(",")]
        for batch in batches:
            x = images(shared, batch)
            for kind in kinds:
                for impl, e in impls.items():
                    if impl == "pytorch-grad-cam" and kind not in ("gradcam", "guided-backprop", "guided-gradcam"):
                        continue
                    if kind == "occlusion" and batch > 1:
                        continue
                    classes = [243, 282] if "2classes" in kind else [243]
                    for _ in range(3):  # warm up (oneDNN builds its primitives on the first calls)
                        run(kind, impl, e, x, classes)
                    times = []
                    deadline = time.time() + 8
                    while len(times) < 3 or (time.time() < deadline and len(times) < 10):
                        t = time.perf_counter()
                        run(kind, impl, e, x, classes)
                        times.append(time.perf_counter() - t)
                    r = {"model": arch, "method": kind, "batch": batch, "impl": impl,
                         "seconds": float(np.median(times)), "runs": len(times)}
                    print(json.dumps(r), flush=True)
                    results.append(r)
    json.dump(results, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
