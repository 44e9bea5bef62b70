#!/usr/bin/python3
"""Captum's own attribution methods (../shared/peers/captum) as the reference for Input x Gradient,
Integrated Gradients and SmoothGrad, on the user-defined cnn2d of testnets/reference.py (its random
weights and two inputs, 3x96x160), for classes 3 and 7 (the logit).

Writes OUT/<class>/:
  input-x-gradient.npy                    InputXGradient(model).attribute(x, target=class), 2x3x96x160
  ig_<rule>_<steps>.npy, ig_<rule>_<steps>_delta.npy
                                          IntegratedGradients(...).attribute(x, baselines=0,
                                          target=class, n_steps, method=rule,
                                          return_convergence_delta=True)
  smooth_<type>_<method>.npy, smooth_<type>_<method>_noise.npy
                                          NoiseTunnel(<method>).attribute(x[i], nt_type, nt_samples=4,
                                          stdevs=0.5, target=class), per image i (2x3x96x160), and
                                          the noise Captum drew (2x4x3x96x160), read from the inputs
                                          the model saw, for the Go side to use the same draws

Usage: reference_captum.py SHARED_DIR TESTNETS_REF_DIR OUT
"""
# depends on: testnets/reference.py
# depends on: pretrained/disks/testdata/reference.py
import os
import sys

import numpy as np
import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))  # the repository root, for its reference scripts

SHARED, REF, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(SHARED, "peers", "captum"))
from captum.attr import GuidedBackprop, InputXGradient, IntegratedGradients, NoiseTunnel, Saliency  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


RUNS = [("gausslegendre", 50), ("riemann_middle", 20), ("riemann_trapezoid", 20)]
SMOOTH = [("smoothgrad", "saliency", Saliency), ("smoothgrad_sq", "input-x-gradient", InputXGradient),
          ("vargrad", "guided-backprop", GuidedBackprop)]
SAMPLES = 4


def noise_tunnel(model, method, nt_type, x, cls):
    """NoiseTunnel(method) on one image x [1, ...]; returns the attribution and the noise drawn."""
    seen = []
    hook = model.register_forward_pre_hook(lambda _m, inp: seen.append(inp[0].detach().clone()))
    torch.manual_seed(cls)
    attr = NoiseTunnel(method(model)).attribute(x, nt_type=nt_type, nt_samples=SAMPLES, stdevs=0.5, target=cls)
    hook.remove()
    noisy = torch.cat(seen)
    assert noisy.shape[0] == SAMPLES, noisy.shape
    return attr.detach().numpy()[0], (noisy - x).numpy()


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    import testnets.reference as testnets
    import pretrained.disks.testdata.reference as disks
    model = testnets.CNN2D().eval()
    missing, unexpected = model.load_state_dict(disks.read_safetensors(os.path.join(REF, "cnn2d", "weights.safetensors")), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    x = torch.from_numpy(np.load(os.path.join(REF, "cnn2d", "input.npy")))
    for cls in (3, 7):
        d = os.path.join(OUT, str(cls))
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "input-x-gradient.npy"), InputXGradient(model).attribute(x, target=cls).detach().numpy())
        for rule, steps in RUNS:
            attr, delta = IntegratedGradients(model).attribute(x, target=cls, n_steps=steps, method=rule,
                                                               return_convergence_delta=True)
            np.save(os.path.join(d, f"ig_{rule}_{steps}.npy"), attr.detach().numpy())
            np.save(os.path.join(d, f"ig_{rule}_{steps}_delta.npy"), delta.detach().numpy().astype(np.float32))
        for nt_type, name, method in SMOOTH:
            runs = [noise_tunnel(model, method, nt_type, x[i:i + 1], cls) for i in range(x.shape[0])]
            np.save(os.path.join(d, f"smooth_{nt_type}_{name}.npy"), np.stack([a for a, _ in runs]))
            np.save(os.path.join(d, f"smooth_{nt_type}_{name}_noise.npy"), np.stack([n for _, n in runs]))
    print("captum done", flush=True)


if __name__ == "__main__":
    main()
