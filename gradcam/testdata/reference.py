#!/usr/bin/python3
"""PyTorch reference for the explanation methods (autograd and hooks, as pytorch-grad-cam does).

For each model and class it writes OUT/<model>/<class>/<array>.npy (float32):
  gradcam.npy, counterfactual.npy, cam.npy       HxW, normalized then upsampled (see below)
  gradcam_lowres.npy                              h x w, ReLU(sum_k alpha_k A_k), unnormalized
  cam_lowres.npy                                  h x w, sum_k w_k^c A_k (SqueezeNet: its class map)
  saliency.npy                                    HxW, max over channels of |dy/dx|
  guided-backprop.npy, deconvnet.npy              3xHxW input gradients under those ReLU rules
  guided-gradcam.npy                              guided-backprop * gradcam
  occlusion.npy                                   HxW mean score drop under a sliding mean-colour patch
and the same in float64 under OUT/f64/ (max pooling picks the larger of two near-equal values, and
float32 rounding can flip that choice: exact arithmetic decides such near-ties).
y is the logit of the class. Normalization is pytorch-grad-cam's: x - min, / (max + 1e-7), then
bilinear upsampling with half-pixel centres (F.interpolate, align_corners=False = cv2.resize),
then x - min, / (max + 1e-7) again (its aggregate_multi_layers step).

Usage: reference.py SHARED_DIR MODELS_REF_DIR PATCH STRIDE OUT
  MODELS_REF_DIR holds the random-weight checkpoints of models/testdata/reference.py.
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
CLASSES = [243, 282]
# model -> (weights file, layer, CAM: None | ("linear", weight key) | "squeeze", occlusion?)
MODELS = {
    "resnet18": ("random", "layer4", ("linear", "fc.weight"), True),
    "vgg16": ("random", "features.29", None, False),
    "alexnet": ("random", "features.11", None, True),
    "mobilenet_v2": ("mobilenet_v2_coral_dequant.pth", "features.18", ("linear", "classifier.1.weight"), True),
    "squeezenet1_0": ("squeezenet1_0_deepcompression.pth", "features.12", "squeeze", True),
}


class RuleReLU(torch.autograd.Function):
    """ReLU (upper=None) or ReLU6 whose backward follows a rule: backprop, guided or deconvnet."""

    @staticmethod
    def forward(ctx, x, upper, rule):
        ctx.save_for_backward(x)
        ctx.upper, ctx.rule = upper, rule
        return x.clamp(min=0) if upper is None else x.clamp(0, upper)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        inside = x > 0
        if ctx.upper is not None:
            inside = inside & (x < ctx.upper)
        if ctx.rule == "guided":
            mask = inside & (g > 0)
        elif ctx.rule == "deconvnet":
            mask = g > 0
        else:
            mask = inside
        return g * mask, None, None


class RuleModule(torch.nn.Module):
    def __init__(self, upper, state):
        super().__init__()
        self.upper, self.state = upper, state

    def forward(self, x):
        return RuleReLU.apply(x, self.upper, self.state["rule"])


def replace_relus(module, state):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.ReLU6):
            setattr(module, name, RuleModule(6.0, state))
        elif isinstance(child, torch.nn.ReLU):
            setattr(module, name, RuleModule(None, state))
        else:
            replace_relus(child, state)


def scale(x):
    x = x - x.min()
    return x / (x.max() + 1e-7)


def cat_dog(shared):
    """cat_dog.png as the 1x3x224x224 input: pixels / 255 normalized with ImageNet's mean and std."""
    img = Image.open(os.path.join(shared, "images", "cat_dog.png")).convert("RGB")
    a = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(a.transpose(2, 0, 1)[None].copy())


def normalize_upsample(low):
    """pytorch-grad-cam's pipeline: scale_cam_image (min-max, resize), then scale_cam_image again."""
    return scale(F.interpolate(scale(low)[None, None], size=(224, 224), mode="bilinear", align_corners=False)[0, 0])


def occlusion(model, x, cls, patch, stride):
    size = 224
    pos = list(range(0, size - patch, stride)) + [size - patch]
    with torch.no_grad():
        base = model(x)[0, cls]
        total = torch.zeros(size, size, dtype=x.dtype)
        count = torch.zeros(size, size, dtype=x.dtype)
        for y in pos:
            for xx in pos:
                xo = x.clone()
                xo[:, :, y:y + patch, xx:xx + patch] = 0
                drop = base - model(xo)[0, cls]
                total[y:y + patch, xx:xx + patch] += drop
                count[y:y + patch, xx:xx + patch] += 1
    return total / count


def main():
    torch.set_num_threads(os.cpu_count() or 1)  # Debian's torch defaults to one thread.
    shared, models_ref, patch, stride, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    x32 = cat_dog(shared)
    for dtype, root in ((torch.float32, out), (torch.float64, os.path.join(out, "f64"))):
        for arch, spec in MODELS.items():
            explain(arch, spec, shared, models_ref, x32.to(dtype), dtype, patch, stride, root)


def explain(arch, spec, shared, models_ref, x0, dtype, patch, stride, out):
    weights, layer, cam, occl = spec
    model = getattr(torchvision.models, arch)()
    path = os.path.join(models_ref, arch + ".pth") if weights == "random" else os.path.join(shared, "weights", weights)
    model.load_state_dict(torch.load(path))
    model.eval()
    model.to(dtype)
    state = {"rule": "backprop"}
    ruled = copy.deepcopy(model)
    replace_relus(ruled, state)
    modules = dict(model.named_modules())
    store = {}

    def hook(m, inp, o):
        store["A"] = o
        if o.requires_grad:
            o.register_hook(lambda g: store.__setitem__("dA", g))

    modules[layer].register_forward_hook(hook)
    if cam == "squeeze":
        modules["classifier.2"].register_forward_hook(lambda m, i, o: store.__setitem__("classmaps", o.detach().clone()))
    for cls in CLASSES:
        d = os.path.join(out, arch, str(cls))
        os.makedirs(d, exist_ok=True)
        save = lambda name, t: np.save(os.path.join(d, name + ".npy"), t.detach().numpy().astype(np.float32))
        x = x0.clone().requires_grad_(True)
        logits = model(x)
        logits[0, cls].backward()
        A, dA = store["A"][0].detach(), store["dA"][0]
        for name, sign in (("gradcam", 1), ("counterfactual", -1)):
            alpha = (sign * dA).mean((1, 2))
            low = torch.relu((alpha[:, None, None] * A).sum(0))
            if name == "gradcam":
                save("gradcam_lowres", low)
                gradcam_up = normalize_upsample(low)
            save(name, normalize_upsample(low))
        save("saliency", x.grad.abs().max(1)[0][0])
        if cam is not None:
            if cam == "squeeze":
                low = store["classmaps"][0, cls]
            else:
                w = model.state_dict()[cam[1]][cls]
                low = (w[:, None, None] * A).sum(0)
            save("cam_lowres", low)
            save("cam", normalize_upsample(torch.relu(low)))
        for rule, name in (("guided", "guided-backprop"), ("deconvnet", "deconvnet")):
            state["rule"] = rule
            xr = x0.clone().requires_grad_(True)
            ruled(xr)[0, cls].backward()
            save(name, xr.grad[0])
            if rule == "guided":
                save("guided-gradcam", xr.grad[0] * gradcam_up[None])
        state["rule"] = "backprop"
        if occl:
            save("occlusion", occlusion(model, x0, cls, patch, stride))
    print(arch, dtype, "done", flush=True)


if __name__ == "__main__":
    main()
