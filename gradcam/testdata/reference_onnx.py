#!/usr/bin/python3
"""ONNX exports and their PyTorch reference explanations (models.LoadONNX parity).

For each architecture, with random weights (torch.manual_seed(0)) it writes:
  OUT/<arch>.onnx                       torch.onnx.export, opset 13, input "input", output "logits"
  OUT/<arch>/layer.txt                  the ONNX name of the explained module's output: the output
                                        of the last node in the module's scope ("/layer4/...")
  OUT/<arch>/logits.npy                 1 x 1000 on cat_dog.png
  OUT/<arch>/<class>/<array>.npy        gradcam, gradcam_lowres, guided-gradcam, cam, cam_lowres
                                        (as gradcam/testdata/reference.py computes them, on the
                                        PyTorch model itself, not the export)
Two architectures are ones the toolkit does not define (efficientnet_b0, shufflenet_v2_x1_0).
Small networks test what torchvision's do not: tiny_matmul ends in mean + MatMul + Add (CAM through
MatMul), tiny_conv1d is a 1-D CNN (GELU, then ReLU) over a [16, 40] sequence; their input is OUT/<name>/input.npy.
unsupported.onnx holds an Upsample (the Resize op), which the converter does not take.

Usage: reference_onnx.py SHARED_DIR OUT
"""
# depends on: gradcam/testdata/reference.py
import copy
import os
import sys

import numpy as np
import onnx
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import CLASSES, cat_dog, normalize_upsample, replace_relus  # noqa: E402

# arch -> (explained module, CAM weight key)
ARCHS = {
    "resnet18": ("layer4", "fc.weight"),
    "mobilenet_v2": ("features.18", "classifier.1.weight"),
    "efficientnet_b0": ("features.8", "classifier.1.weight"),
    "shufflenet_v2_x1_0": ("conv5", "fc.weight"),
}


def onnx_layer(path, module):
    """The output of the last node in the module's name scope."""
    scope = "/" + "/".join(_scopes(module)) + "/"
    last = None
    for node in onnx.load(path).graph.node:
        if node.name.startswith(scope):
            last = node.output[0]
    if last is None:
        raise SystemExit(f"no ONNX node in scope {scope} of {path}")
    return last


def _scopes(module):
    # torch 1.13 names a submodule "features.18" under scope "/features/features.18".
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


class TinyMatMul(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.w = torch.nn.Parameter(torch.randn(8, 5))
        self.b = torch.nn.Parameter(torch.randn(5))

    def forward(self, x):
        return self.relu(self.conv(x)).mean((2, 3)) @ self.w + self.b


def tiny_conv1d():
    return torch.nn.Sequential(
        torch.nn.Conv1d(16, 8, 3, padding=1), torch.nn.GELU(), torch.nn.MaxPool1d(2),
        torch.nn.Conv1d(8, 8, 5, padding=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool1d(1),
        torch.nn.Flatten(), torch.nn.Linear(8, 4))


SMALL = {  # name -> (builder, input shape, explained module, CAM weight key, classes)
    "tiny_matmul": (TinyMatMul, (1, 3, 20, 24), "relu", "w", [1, 3]),
    "tiny_conv1d": (tiny_conv1d, (1, 16, 40), "4", "7.weight", [1, 3]),
}


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    shared, out = sys.argv[1], sys.argv[2]
    x0 = cat_dog(shared)
    os.makedirs(out, exist_ok=True)
    for arch, (module, cam_key) in ARCHS.items():
        torch.manual_seed(0)
        model = getattr(torchvision.models, arch)().eval()
        path = os.path.join(out, arch + ".onnx")
        torch.onnx.export(model, x0, path, opset_version=13, input_names=["input"], output_names=["logits"])
        d = os.path.join(out, arch)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "layer.txt"), "w") as f:
            f.write(onnx_layer(path, module) + "\n")
        explain(model, module, cam_key, x0, d, CLASSES, images=True)
        print(arch, "done", flush=True)
    for name, (build, shape, module, cam_key, classes) in SMALL.items():
        torch.manual_seed(0)
        model = build().eval()
        x = torch.randn(*shape)
        path = os.path.join(out, name + ".onnx")
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["logits"])
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "input.npy"), x.numpy())
        with open(os.path.join(d, "layer.txt"), "w") as f:
            f.write(onnx_layer(path, module) + "\n")
        explain(model, module, cam_key, x, d, classes, images=False)
    upsample = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Upsample(scale_factor=2), torch.nn.AdaptiveAvgPool2d(1),
                                   torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()
    torch.onnx.export(upsample, torch.randn(1, 3, 16, 16), os.path.join(out, "unsupported.onnx"), opset_version=13)


def explain(model, module, cam_key, x0, out, classes, images):
    state = {"rule": "backprop"}
    ruled = copy.deepcopy(model)
    replace_relus(ruled, state)
    state["rule"] = "guided"
    store = {}

    def hook(m, inp, o):
        store["A"] = o
        if o.requires_grad:
            o.register_hook(lambda g: store.__setitem__("dA", g))

    dict(model.named_modules())[module].register_forward_hook(hook)
    with torch.no_grad():
        np.save(os.path.join(out, "logits.npy"), model(x0).numpy().astype(np.float32))
    for cls in classes:
        d = os.path.join(out, str(cls))
        os.makedirs(d, exist_ok=True)
        save = lambda name, t: np.save(os.path.join(d, name + ".npy"), t.detach().numpy().astype(np.float32))
        x = x0.clone().requires_grad_(True)
        model(x)[0, cls].backward()
        A, dA = store["A"][0].detach(), store["dA"][0]
        spatial = tuple(range(1, A.dim()))
        expand = (slice(None),) + (None,) * len(spatial)
        low = torch.relu((dA.mean(spatial)[expand] * A).sum(0))
        save("gradcam_lowres", low)
        w = model.state_dict()[cam_key]
        w = w[:, cls] if cam_key == "w" else w[cls]
        cam_low = (w[expand] * A).sum(0)
        save("cam_lowres", cam_low)
        if not images:
            continue  # the upsampled maps are checked on the 224x224 image
        up = normalize_upsample(low)
        save("gradcam", up)
        save("cam", normalize_upsample(torch.relu(cam_low)))
        xr = x0.clone().requires_grad_(True)
        ruled(xr)[0, cls].backward()
        save("guided-gradcam", xr.grad[0] * up[None])


if __name__ == "__main__":
    main()
