#!/usr/bin/python3
"""Captum's own attribution methods (../shared/peers/captum) on the ImageNet models: resnet18 and
vgg16 (the random weights of models/testdata/reference.py) and squeezenet1_0 and mobilenet_v2 (the
real weights in ../shared/weights), cat_dog.png, classes 243 and 282 (the logit).

Writes OUT/<model>/<class>/:
  input-x-gradient.npy      InputXGradient(model).attribute(x, target=class), 1x3x224x224
  ig.npy, ig_delta.npy      IntegratedGradients(model).attribute(x, target=class, n_steps=8,
                            method="gausslegendre", return_convergence_delta=True)
  smoothgrad.npy, smoothgrad_noise.npy
                            NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad",
                            nt_samples=3, stdevs=1.0, target=class), and the noise Captum drew
                            (3x3x224x224), read from the inputs the model saw
  gradient-shap.npy         GradientShap(model).attribute(x, BASELINES, n_samples=3, stdevs=0.2,
                            target=class), with the draws Captum made (recorded as it makes
                            them): gradient-shap_noise.npy (3x3x224x224), gradient-shap_index.npy
                            (the baselines drawn), gradient-shap_alpha.npy (the points' positions)
OUT/baselines.npy holds BASELINES (2x3x224x224): an all-zero input and Gaussian noise of std 0.5.
And the same in float64 under OUT/<model>/f64/<class>/: where float32 rounding moves an input
across a kink (a ReLU or ReLU6 threshold on the integration path, a max-pool near-tie), in
PyTorch as in Go, the test compares the float64 computations.

Usage: reference_captum_imagenet.py SHARED_DIR MODELS_REF_DIR OUT
"""
# depends on: gradcam/testdata/reference.py
import os
import sys

import numpy as np
import torch
import torchvision

SHARED, REF, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(SHARED, "peers", "captum"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from captum.attr import GradientShap, InputXGradient, IntegratedGradients, NoiseTunnel, Saliency  # noqa: E402
from reference import CLASSES, cat_dog  # noqa: E402

MODELS = {"resnet18": "random", "vgg16": "random", "squeezenet1_0": "squeezenet1_0_deepcompression.pth",
          "mobilenet_v2": "mobilenet_v2_coral_dequant.pth"}


def recorded(draws):
    """Wraps the random functions Captum's GradientShap draws with (numpy's choice and uniform,
    torch.normal), recording what each returns into draws."""
    choice, uniform, normal = np.random.choice, np.random.uniform, torch.normal

    def rec(name, fn):
        def call(*args, **kwargs):
            out = fn(*args, **kwargs)
            draws.setdefault(name, []).append(out)
            return out
        return call

    np.random.choice, np.random.uniform, torch.normal = rec("index", choice), rec("alpha", uniform), rec("noise", normal)
    return lambda: (setattr(np.random, "choice", choice), setattr(np.random, "uniform", uniform),
                    setattr(torch, "normal", normal))


def attributions(model, x, baselines, d):
    os.makedirs(d, exist_ok=True)
    for c in CLASSES:
        cd = os.path.join(d, str(c))
        os.makedirs(cd, exist_ok=True)
        np.save(os.path.join(cd, "input-x-gradient.npy"), np.float32(InputXGradient(model).attribute(x, target=c).detach().numpy()))
        attr, delta = IntegratedGradients(model).attribute(x, target=c, n_steps=8, method="gausslegendre",
                                                           internal_batch_size=8, return_convergence_delta=True)
        np.save(os.path.join(cd, "ig.npy"), np.float32(attr.detach().numpy()))
        np.save(os.path.join(cd, "ig_delta.npy"), np.float32(delta.detach().numpy()))
        seen = []
        hook = model.register_forward_pre_hook(lambda _m, inp: seen.append(inp[0].detach().clone()))
        torch.manual_seed(c)
        sg = NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad", nt_samples=3, stdevs=1.0, target=c)
        hook.remove()
        np.save(os.path.join(cd, "smoothgrad.npy"), np.float32(sg.detach().numpy()))
        np.save(os.path.join(cd, "smoothgrad_noise.npy"), np.float32((torch.cat(seen) - x).numpy()))
        draws = {}
        restore = recorded(draws)
        np.random.seed(c)
        torch.manual_seed(c)
        gs = GradientShap(model).attribute(x, baselines, n_samples=3, stdevs=0.2, target=c)
        restore()
        np.save(os.path.join(cd, "gradient-shap.npy"), np.float32(gs.detach().numpy()))
        np.save(os.path.join(cd, "gradient-shap_noise.npy"), np.float32(draws["noise"][0].numpy()))
        np.save(os.path.join(cd, "gradient-shap_index.npy"), np.float32(draws["index"][0]))
        np.save(os.path.join(cd, "gradient-shap_alpha.npy"), np.float32(draws["alpha"][0]))


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    x = cat_dog(SHARED)
    torch.manual_seed(0)
    baselines = torch.cat([torch.zeros_like(x), 0.5 * torch.randn_like(x)])
    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "baselines.npy"), baselines.numpy())
    for arch, weights in MODELS.items():
        model = getattr(torchvision.models, arch)()
        path = os.path.join(REF, arch + ".pth") if weights == "random" else os.path.join(SHARED, "weights", weights)
        model.load_state_dict(torch.load(path))
        model.eval()
        attributions(model, x, baselines, os.path.join(OUT, arch))
        attributions(model.double(), x.double(), baselines.double(), os.path.join(OUT, arch, "f64"))
        print(arch, "done", flush=True)


if __name__ == "__main__":
    main()
