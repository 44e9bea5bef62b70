#!/usr/bin/python3
"""PyTorch reference for the models' parity tests.

Run with Debian's python3-torch (/usr/bin/python3). For every architecture it writes, under OUT:

  OUT/<arch>.pth                 random-weight checkpoint (torch.save zip format) with randomized
                                 BatchNorm statistics, so inference-mode BN is not the identity
  OUT/<arch>/logits.npy          float32 [2, 1000] logits for the two test images
  OUT/<arch>/act__<module>.npy   float32 activations of chosen modules (NCHW), from forward hooks
  OUT/input.npy                  float32 [2, 3, 224, 224]: the preprocessed images
  OUT/resnet18_legacy.pth        resnet18's weights in the legacy format
  OUT/resnet18.safetensors       resnet18's weights as safetensors (written by hand, no library)
  OUT/DONE                       written last

Usage: reference.py IMAGES_DIR OUT
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

# Modules whose outputs are compared, besides the logits.
ACTIVATIONS = {
    "alexnet": ["features.0", "features.2", "features.11", "classifier.5"],
    "vgg11": ["features.2", "features.19"],
    "vgg13": ["features.23"],
    "vgg16": ["features.4", "features.28", "features.29", "classifier.1"],
    "vgg19": ["features.35"],
    "resnet18": ["maxpool", "layer1", "layer2.0.downsample.1", "layer4.1.conv2", "layer4"],
    "resnet34": ["layer3", "layer4"],
    "resnet50": ["layer1.0", "layer3.5.bn3", "layer4"],
    "resnet101": ["layer3.22", "layer4"],
    "squeezenet1_0": ["features.2", "features.3.squeeze_activation", "features.6", "features.12", "classifier.1"],
    "squeezenet1_1": ["features.2", "features.12"],
    "mobilenet_v2": ["features.0", "features.1", "features.2.conv.1.2", "features.17", "features.18"],
}
IMAGES = ["cat_dog.png", "snake.png"]


def load_image(path):
    """RGB / 255, normalized, NCHW; the test images are 224x224 so no resizing is involved."""
    img = Image.open(path).convert("RGB")
    assert img.size == (224, 224), (path, img.size)
    a = np.asarray(img, dtype=np.float32) / 255.0
    a = (a - MEAN) / STD
    return a.transpose(2, 0, 1)


def randomize_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def read_safetensors(path):
    """Reads a .safetensors file (float32 and int64 tensors) into a state dict; Debian has no
    safetensors package."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype = {"F32": "<f4", "I64": "<i8"}[info["dtype"]]
        a, b = info["data_offsets"]
        out[key] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dtype).reshape(info["shape"]).copy())
    return out


def save_safetensors(state, path, half=False, metadata=None):
    """Writes the floating-point tensors of a state dict as .safetensors, in float32 (float16 with
    half), with the metadata if given."""
    header, blobs, offset = ({"__metadata__": metadata} if metadata else {}), [], 0
    for k, v in state.items():
        if not v.dtype.is_floating_point:
            continue
        b = v.to(torch.float16 if half else torch.float32).contiguous().numpy().tobytes()
        header[k] = {"dtype": "F16" if half else "F32", "shape": list(v.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    images_dir, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.set_grad_enabled(False)
    torch.set_num_threads(os.cpu_count() or 1)  # Debian's torch defaults to one thread.
    x = np.stack([load_image(os.path.join(images_dir, f)) for f in IMAGES])
    np.save(os.path.join(out, "input.npy"), x)
    xt = torch.from_numpy(x)
    for i, (arch, acts) in enumerate(ACTIVATIONS.items()):
        torch.manual_seed(1000 + i)
        gen = torch.Generator().manual_seed(2000 + i)
        model = getattr(torchvision.models, arch)()
        randomize_batchnorm(model, gen)
        model.eval()
        state = model.state_dict()
        torch.save(state, os.path.join(out, arch + ".pth"))
        if arch == "resnet18":
            torch.save(state, os.path.join(out, "resnet18_legacy.pth"), _use_new_zipfile_serialization=False)
            save_safetensors(state, os.path.join(out, "resnet18.safetensors"))
        modules = dict(model.named_modules())
        store = {}
        for name in acts:
            # Clone: an in-place ReLU after a conv would otherwise change the stored output.
            modules[name].register_forward_hook(lambda m, inp, o, name=name: store.__setitem__(name, o.detach().clone()))
        logits = model(xt)
        d = os.path.join(out, arch)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "logits.npy"), logits.numpy().astype(np.float32))
        for name, v in store.items():
            np.save(os.path.join(d, "act__" + name + ".npy"), v.numpy().astype(np.float32))
        print(arch, "top-1", logits.argmax(1).tolist(), flush=True)
    open(os.path.join(out, "DONE"), "w").write("ok\n")


if __name__ == "__main__":
    main()
