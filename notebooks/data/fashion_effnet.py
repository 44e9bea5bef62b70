#!/usr/bin/python3
"""Trains a small EfficientNet-style CNN on Fashion-MNIST in PyTorch and exports it to ONNX: the
model notebook 06 explains, an architecture the toolkit does not define (SiLU activations,
depthwise convolutions, squeeze-and-excitation, batch norm folded by the exporter).

Data: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist),
pixels / 255 with no other normalization (as the toolkit's data.FashionMNIST gives them).
Trained on the first 30,000 training items for two epochs (Adam, cosine schedule), seeded
(torch.manual_seed(0)); a few minutes on two cores.

Usage: fashion_effnet.py OUT.onnx      (writes OUT.onnx and OUT.labels.txt)
"""
import gzip
import os
import sys

import numpy as np
import torch
from torch import nn

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split):
    d = "/usr/share/datasets/fashion-mnist"
    prefix = "train" if split == "train" else "t10k"
    x = idx(os.path.join(d, prefix + "-images-idx3-ubyte.gz")).astype(np.float32) / 255
    y = idx(os.path.join(d, prefix + "-labels-idx1-ubyte.gz")).astype(np.int64)
    return torch.from_numpy(x[:, None].copy()), torch.from_numpy(y.copy())


def cbs(i, o, k=1, s=1, groups=1):
    return [nn.Conv2d(i, o, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(o), nn.SiLU()]


class SE(nn.Module):
    def __init__(self, c, r):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, r, 1), nn.Conv2d(r, c, 1)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.fc2(nn.functional.silu(self.fc1(s))))


class MBConv(nn.Module):
    def __init__(self, i, o, expand, stride):
        super().__init__()
        h = i * expand
        self.block = nn.Sequential(*cbs(i, h), *cbs(h, h, 3, stride, groups=h), SE(h, max(4, i // 4)),
                                   nn.Conv2d(h, o, 1, bias=False), nn.BatchNorm2d(o))
        self.residual = stride == 1 and i == o

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


def fashion_effnet():
    return nn.Sequential(
        nn.Sequential(*cbs(1, 16, 3)),                # stem, 28x28
        MBConv(16, 24, 2, 2),                          # 14x14
        MBConv(24, 40, 2, 2),                          # 7x7
        MBConv(40, 40, 2, 1),
        nn.Sequential(*cbs(40, 96)),                   # head conv, 7x7: the CAM layer
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(96, 10))


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    x, y = load("train")
    x, y = x[:30000], y[:30000]
    xt, yt = load("test")
    model = fashion_effnet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    epochs, batch = 2, 64
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * (len(x) // batch))
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x))
        for step, i in enumerate(range(0, len(x) - batch + 1, batch)):
            j = perm[i:i + batch]
            loss = nn.functional.cross_entropy(model(x[j]), y[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if step % 100 == 0:
                print(f"epoch {epoch + 1} step {step}: loss {loss.item():.3f}", flush=True)
        model.eval()
        with torch.no_grad():
            acc = (model(xt).argmax(1) == yt).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, test accuracy {acc:.4f}", flush=True)
    tmp = out + ".tmp"
    torch.onnx.export(model, x[:1], tmp, opset_version=13, input_names=["input"], output_names=["logits"])
    os.replace(tmp, out)
    with open(os.path.splitext(out)[0] + ".labels.txt", "w") as f:
        f.write("\n".join(CLASSES) + "\n")


if __name__ == "__main__":
    main()
