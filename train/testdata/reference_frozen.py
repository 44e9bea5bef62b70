#!/usr/bin/python3
"""PyTorch reference for fine-tuning with a frozen batch-norm backbone (issue 27).

The real ImageNet MobileNetV2 of ../shared/weights with a new 3-output head (classifier.1,
Linear(1280, 3), PyTorch's default initialization under seed 0), every other parameter frozen and
the whole model in eval mode (the backbone's batch norms on their running statistics; dropout
off), takes one SGD step (learning rate 0.5, cross-entropy) on a seeded batch of 6 N(0, 1) images.

Writes OUT/x.npy [6, 3, 224, 224], OUT/y.npy [6] (int64), OUT/w0.npy, OUT/b0.npy (the head before),
OUT/w1.npy, OUT/b1.npy (after), OUT/loss.npy and OUT/features_18_1_running_var.npy (the last
batch norm's running variance after the step: unchanged).

Usage: reference_frozen.py WEIGHTS_DIR OUT (WEIGHTS_DIR: ../shared/weights)
"""
import os
import sys

import numpy as np
import torch
import torchvision


def main():
    weights, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(os.path.join(weights, "mobilenet_v2_coral_dequant.pth")))
    model.classifier[1] = torch.nn.Linear(1280, 3)
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("classifier.1.")
    model.eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 224, 224, generator=g)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    head = model.classifier[1]
    np.save(os.path.join(out, "w0.npy"), head.weight.detach().numpy().copy())
    np.save(os.path.join(out, "b0.npy"), head.bias.detach().numpy().copy())
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    np.save(os.path.join(out, "x.npy"), x.numpy())
    np.save(os.path.join(out, "y.npy"), y.numpy())
    np.save(os.path.join(out, "w1.npy"), head.weight.detach().numpy())
    np.save(os.path.join(out, "b1.npy"), head.bias.detach().numpy())
    np.save(os.path.join(out, "loss.npy"), np.array([loss.item()], dtype=np.float32))
    np.save(os.path.join(out, "features_18_1_running_var.npy"), model.features[18][1].running_var.numpy())


if __name__ == "__main__":
    main()
