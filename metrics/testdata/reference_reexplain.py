#!/usr/bin/python3
"""Quantus's robustness, randomisation and input-invariance metrics, for
TestExplanationMetricsMatchQuantus (metrics/reexplain_test.go): Quantus itself, from
../shared/peers/quantus, with Captum's saliency as its explain_func (its absolute gradient, the largest
over channels: Simonyan et al.'s map, the Go side's Saliency), on the image reference_metrics.py wrote
(REF/x.npy, classes.json: the top-1 class), one image per call.

- max-sensitivity, avg-sensitivity, local-lipschitz (3 samples each), continuity (28 steps),
  random-logit (its seed 42) and mprt (return_last_correlation) on the real MobileNetV2;
- input-invariance on the real SqueezeNet 1.0 (its first convolution has a bias and no padding:
  Quantus's add_mean_shift_to_first_layer edits the bias of the model's first registered module,
  so the network is wrapped to make that module its first convolution; MobileNetV2's has no bias),
  with saliency (invariant) and input x gradient (not). Its perturb_func shifts every value
  (shift_all: Quantus's default skips the first).

Quantus's draws are recorded as it makes them and written for the Go test: noise_METRIC.npy (the
uniform or normal noise images, in call order, float64), randint.npy (random-logit's draw), and
mprt_random.pth, the state of MobileNetV2 after Quantus's own top-down generator has re-initialized
every layer (get_random_layer_generator, seed 42): the model of MPRT's last correlation.

Writes OUT/values.json {metric: value}; OUT/saliency.npy, the map given as a_batch.

Usage: reference_reexplain.py SHARED_DIR REF OUT
"""
import json
import os
import sys
import warnings

import numpy as np
import torch
import torchvision

SHARED, REF, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.dont_write_bytecode = True
for peer in ("quantus", "captum", "zennit"):
    sys.path.insert(0, os.path.join(SHARED, "peers", peer))
import quantus  # noqa: E402
from captum.attr import InputXGradient, Saliency  # noqa: E402
from quantus.helpers.model.pytorch_model import PyTorchModel  # noqa: E402

SAMPLES = 3


def saliency(model, inputs, targets, **kwargs):
    x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32).requires_grad_(True)
    a = Saliency(model).attribute(x, target=torch.as_tensor(np.asarray(targets)).long(), abs=True)
    return a.max(dim=1).values.detach().numpy()


def input_x_gradient(model, inputs, targets, **kwargs):
    x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32).requires_grad_(True)
    a = InputXGradient(model).attribute(x, target=torch.as_tensor(np.asarray(targets)).long())
    return np.abs(a.detach().numpy()).sum(axis=1)


def shift_all(arr, indices, indexed_axes, input_shift, **kwargs):
    """Input invariance's shift of every value. Quantus's default (baseline_replacement_by_shift
    through perturb_batch) receives indices[i][1:] and so leaves the first value unshifted, which
    makes every map fail the test."""
    return arr + np.float32(input_shift)


class FirstConv(torch.nn.Module):
    """SqueezeNet with its first convolution as its first registered module (same function)."""

    def __init__(self, net):
        super().__init__()
        self.conv = net.features[0]
        self.rest = torch.nn.Sequential(*list(net.features)[1:])
        self.classifier = net.classifier

    def forward(self, x):
        return torch.flatten(self.classifier(self.rest(self.conv(x))), 1)


def main():
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    mobilenet = torchvision.models.mobilenet_v2()
    mobilenet.load_state_dict(torch.load(os.path.join(SHARED, "weights", "mobilenet_v2_coral_dequant.pth")))
    mobilenet.eval()
    squeezenet = torchvision.models.squeezenet1_0()
    squeezenet.load_state_dict(torch.load(os.path.join(SHARED, "weights", "squeezenet1_0_deepcompression.pth")))
    squeezenet.eval()
    x = np.load(os.path.join(REF, "x.npy")).astype(np.float32)
    with open(os.path.join(REF, "classes.json")) as f:
        y = np.array([json.load(f)["top1"]], dtype=np.int64)
    os.makedirs(OUT, exist_ok=True)
    a = saliency(mobilenet, x, y)[:, None]
    np.save(os.path.join(OUT, "saliency.npy"), a[0, 0].astype(np.float32))

    noise, ints = [], []
    uniform, normal, randint = np.random.uniform, np.random.normal, np.random.randint

    def recording(f, into):
        def g(*args, **kwargs):
            v = f(*args, **kwargs)
            into.append(np.array(v, dtype=np.float64).reshape(-1))
            return v
        return g

    np.random.uniform, np.random.normal, np.random.randint = recording(uniform, noise), recording(normal, noise), recording(randint, ints)
    np.random.seed(0)

    values = {}
    common = dict(disable_warnings=True)
    for name, metric in [
        ("max-sensitivity", quantus.MaxSensitivity(nr_samples=SAMPLES, **common)),
        ("avg-sensitivity", quantus.AvgSensitivity(nr_samples=SAMPLES, **common)),
        ("local-lipschitz", quantus.LocalLipschitzEstimate(nr_samples=SAMPLES, **common)),
        ("continuity", quantus.Continuity(**common)),
        ("random-logit", quantus.RandomLogit(num_classes=1000, **common)),
        ("mprt", quantus.MPRT(return_last_correlation=True, **common)),
    ]:
        noise.clear()
        score = metric(model=mobilenet, x_batch=x, y_batch=y, a_batch=a.copy(), device="cpu", explain_func=saliency)
        values[name] = float(np.asarray(score).reshape(-1)[0])
        images = [z for z in noise if z.size == x.size]  # (baseline dictionaries draw a uniform per call, unused)
        if images:
            np.save(os.path.join(OUT, "noise_" + name + ".npy"), np.stack(images))
    np.save(os.path.join(OUT, "randint.npy"), np.concatenate(ints).astype(np.int64))

    last = None
    for _, random_model in PyTorchModel(mobilenet, channel_first=True).get_random_layer_generator(order="top_down", seed=42):
        last = random_model
    torch.save(last.state_dict(), os.path.join(OUT, "mprt_random.pth"))

    net = FirstConv(squeezenet).eval()
    for name, explain in (("saliency", saliency), ("inputxgradient", input_x_gradient)):
        a_sq = explain(net, x, y)[:, None]
        score = quantus.InputInvariance(perturb_func=shift_all, **common)(model=net, x_batch=x, y_batch=y, a_batch=a_sq, device="cpu", explain_func=explain)
        values["input-invariance/" + name] = float(np.asarray(score).reshape(-1)[0])
    with open(os.path.join(OUT, "values.json"), "w") as f:
        json.dump(values, f, indent=1)


if __name__ == "__main__":
    main()
