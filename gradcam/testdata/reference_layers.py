#!/usr/bin/python3
"""PyTorch reference for a network written with GoMLX's own layers (gradcam/function_test.go).

The Go test trains the network below with GoMLX's trainer and writes its variables as NumPy
arrays named by their scope and name ("conv1_conv_weights.npy" for /conv1/conv/weights) with an input batch
(input.npy, NCHW). This script builds the same network in PyTorch on those weights and writes,
as testnets/reference.py does for the nn networks: logits.npy, act__<layer>.npy and
<image>/<class>/<method>.npy for every method.

GoMLX's layouts: a convolution kernel is [kh, kw, in, out] (PyTorch [out, in, kh, kw]), a dense
weight [in, out] (PyTorch [out, in]); its batch norm uses epsilon 1e-3 and keeps "mean" and
"variance" as PyTorch's running statistics.

Usage: reference_layers.py PATCH STRIDE WEIGHTS_DIR OUT
"""
# depends on: testnets/reference.py
import os
import sys

import numpy as np
import torch
import torch.nn as tnn
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))  # the repository root, for its reference scripts


class Patterns(tnn.Module):
    """conv(8)-BN-ReLU [block1], maxpool 2, conv(16)-ReLU [block2], global average, linear(3)."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = tnn.BatchNorm2d(8, eps=1e-3)
        self.block1 = tnn.ReLU()
        self.pool = tnn.MaxPool2d(2)
        self.conv2 = tnn.Conv2d(8, 16, 3, padding=1)
        self.block2 = tnn.ReLU()
        self.fc = tnn.Linear(16, 3)

    def forward(self, x):
        x = self.pool(self.block1(self.bn1(self.conv1(x))))
        x = self.block2(self.conv2(x))
        return self.fc(x.mean((2, 3)))


def main():
    patch, stride, weights, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    import testnets.reference as testnets
    w = lambda name: torch.from_numpy(np.load(os.path.join(weights, name + ".npy")))
    conv = lambda k: k.permute(3, 2, 0, 1).contiguous()
    model = Patterns()
    model.load_state_dict({
        "conv1.weight": conv(w("conv1_conv_weights")), "conv1.bias": w("conv1_conv_biases"),
        "bn1.weight": w("bn1_batch_normalization_scale"), "bn1.bias": w("bn1_batch_normalization_offset"),
        "bn1.running_mean": w("bn1_batch_normalization_mean"), "bn1.running_var": w("bn1_batch_normalization_variance"),
        "bn1.num_batches_tracked": torch.tensor(0),
        "conv2.weight": conv(w("conv2_conv_weights")), "conv2.bias": w("conv2_conv_biases"),
        "fc.weight": w("readout_dense_weights").T.contiguous(), "fc.bias": w("readout_dense_biases"),
    })
    model.eval()
    x = torch.from_numpy(np.load(os.path.join(weights, "input.npy")))
    os.makedirs(out, exist_ok=True)
    store = {}
    modules = dict(model.named_modules())
    handles = [modules[a].register_forward_hook(lambda m, i, o, a=a: store.__setitem__(a, o.detach().clone()))
               for a in ("block1", "block2")]
    with torch.no_grad():
        logits = model(x)
    for h in handles:
        h.remove()
    np.save(os.path.join(out, "logits.npy"), logits.numpy())
    for a, v in store.items():
        np.save(os.path.join(out, "act__" + a + ".npy"), v.numpy())
    testnets.explain("patterns", model, x, "block2", [0, 2], "fc.weight", patch, stride, out, factory=Patterns)
    print("patterns done", flush=True)


if __name__ == "__main__":
    main()
