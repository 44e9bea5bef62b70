#!/usr/bin/python3
"""Captum's own attribution methods (../shared/peers/captum) as the reference for Input x Gradient
and Integrated Gradients, on the user-defined cnn2d of internal/testnets/reference.py (its random
weights and two inputs, 3x96x160), for classes 3 and 7 (the logit).

Writes OUT/<class>/:
  input-x-gradient.npy                    InputXGradient(model).attribute(x, target=class), 2x3x96x160
  ig_<rule>_<steps>.npy, ig_<rule>_<steps>_delta.npy
                                          IntegratedGradients(...).attribute(x, baselines=0,
                                          target=class, n_steps, method=rule,
                                          return_convergence_delta=True)

Usage: reference_captum.py SHARED_DIR TESTNETS_REF_DIR OUT
"""
# depends on: internal/testnets/reference.py
# depends on: models/disks/testdata/reference.py
import importlib.util
import os
import sys

import numpy as np
import torch

SHARED, REF, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(SHARED, "peers", "captum"))
from captum.attr import InputXGradient, IntegratedGradients  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNS = [("gausslegendre", 50), ("riemann_middle", 20), ("riemann_trapezoid", 20)]


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    testnets = load("testnets_reference", "internal/testnets/reference.py")
    disks = load("disks_reference", "models/disks/testdata/reference.py")
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
    print("captum done", flush=True)


if __name__ == "__main__":
    main()
