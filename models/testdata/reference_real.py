#!/usr/bin/python3
"""PyTorch reference on the real ImageNet weights in ../shared/weights.

Writes OUT/top3.json: {model: {image: [[class, probability], ...]}} with torchvision's own models,
standard preprocessing (PIL bilinear resize with antialiasing to 224x224 where needed, RGB / 255,
ImageNet mean and std), and OUT/input__<image>.npy with each preprocessed image (NCHW, float32).

Usage: reference_real.py SHARED_DIR OUT
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MODELS = {"mobilenet_v2": "mobilenet_v2_coral_dequant.pth", "squeezenet1_0": "squeezenet1_0_deepcompression.pth"}
IMAGES = ["cat_dog.png", "snake.png", "spider.png", "egyptian_cat.png", "horses.jpg"]


def preprocess(path):
    img = Image.open(path).convert("RGB")
    if img.size != (224, 224):
        img = img.resize((224, 224), Image.BILINEAR)
    a = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
    return a.transpose(2, 0, 1)[None].astype(np.float32)


def main():
    shared, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.set_grad_enabled(False)
    torch.set_num_threads(os.cpu_count() or 1)  # Debian's torch defaults to one thread.
    inputs = {}
    for name in IMAGES:
        inputs[name] = preprocess(os.path.join(shared, "images", name))
        np.save(os.path.join(out, "input__" + name + ".npy"), inputs[name])
    result = {}
    for arch, file in MODELS.items():
        model = getattr(torchvision.models, arch)()
        model.load_state_dict(torch.load(os.path.join(shared, "weights", file)))
        model.eval()
        result[arch] = {}
        for name, x in inputs.items():
            p = torch.softmax(model(torch.from_numpy(x)), 1)[0]
            top = torch.topk(p, 3)
            result[arch][name] = [[int(c), float(v)] for v, c in zip(top.values, top.indices)]
    json.dump(result, open(os.path.join(out, "top3.json"), "w"), indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
