#!/usr/bin/python3
"""PyTorch reference for the shipped disks regression CNN (package disks): its output, RAM and
Grad-CAM of the regression output at block3.relu, on a random input.

Reads the shipped weights (.safetensors, parsed by models/testdata/reference.py) into the
same network written in PyTorch, and writes OUT/input.npy (1x3x48x48, uniform in [0, 1),
torch.manual_seed(0)), OUT/output.npy, OUT/ram_lowres.npy (sum_k w_k A_k, the fc weights, no
ReLU) and OUT/gradcam_lowres.npy (ReLU(sum_k mean(dy/dA_k) A_k)).

Usage: reference.py WEIGHTS.safetensors OUT
"""
# depends on: models/testdata/reference.py
import os
import sys

import numpy as np
import torch
from torch import nn
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))  # the repository root, for its reference scripts


from models.testdata.reference import read_safetensors  # noqa: E402


class Block(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.conv = nn.Conv2d(i, o, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(o)


class Disks(nn.Module):
    def __init__(self):
        super().__init__()
        self.block1, self.block2, self.block3 = Block(3, 16), Block(16, 32), Block(32, 32)
        self.fc = nn.Linear(32, 1)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.block1.bn(self.block1.conv(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.block2.bn(self.block2.conv(x))), 2)
        a = torch.relu(self.block3.bn(self.block3.conv(x)))
        if a.requires_grad:
            a.retain_grad()
        self.a = a
        return self.fc(a.mean((2, 3)))


def main():
    weights, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    model = Disks().eval()
    missing, unexpected = model.load_state_dict(read_safetensors(weights), strict=False)
    assert not unexpected and not missing, (missing, unexpected)
    torch.manual_seed(0)
    x = torch.rand(1, 3, 48, 48)
    np.save(os.path.join(out, "input.npy"), x.numpy())
    y = model(x)
    np.save(os.path.join(out, "output.npy"), y.detach().numpy())
    y[0, 0].backward()
    a, g = model.a[0].detach(), model.a.grad[0]
    np.save(os.path.join(out, "ram_lowres.npy"), (model.fc.weight[0].detach()[:, None, None] * a).sum(0).numpy())
    np.save(os.path.join(out, "gradcam_lowres.npy"), torch.relu((g.mean((1, 2))[:, None, None] * a).sum(0)).numpy())


if __name__ == "__main__":
    main()
