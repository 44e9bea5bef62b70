#!/usr/bin/python3
"""PyTorch reference for networks users define themselves (package nn), and for training.

The same three networks as testnets.go, in PyTorch, with random weights (seeded) and randomized
batch norm statistics:
  cnn2d       conv-BN-ReLU-maxpool, a dilated grouped conv-BN-ReLU, 1x1 conv-ReLU, GAP, linear(10);
              input 3x96x160 (non-square)
  charcnn     1-D convolutions of widths 3, 4, 5 over 16 channels, ReLU, max-over-time pooling,
              concatenation, linear(5); input 16x40
  regression  conv-ReLU-conv-ReLU, GAP, linear(1); input 3x48x48

For each network NAME it writes under OUT/NAME/:
  weights.safetensors, input.npy (2 examples), logits.npy, act__<module>.npy
  (regression also weights.pth and weights_legacy.pth: PyTorch's zip and legacy formats)
  <image>/<class>/<array>.npy   every explanation method for image 0 and 1 and each class,
                                computed as gradcam/testdata/reference.py does (autograd, hooks)
and OUT/train/: one training step of cnn2d (BN in training mode) on a batch of 8 at 3x32x48:
  init.safetensors, x.npy, y.npy, sgd.safetensors (lr 0.1), adam.safetensors (lr 0.01, eps 1e-8)

and OUT/pools/: max and average pooling (2-D, 1-D) of a fixed input under several paddings,
ceil modes and count_include_pad settings: x.npy and <name>.npy.

Usage: reference.py PATCH STRIDE OUT
"""
# depends on: models/testdata/reference.py
# depends on: gradcam/testdata/reference.py
import os
import sys

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # the repository root, for its reference scripts


class CNN2D(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = tnn.BatchNorm2d(8)
        self.relu1 = tnn.ReLU()
        self.pool1 = tnn.MaxPool2d(2)
        self.conv2 = tnn.Conv2d(8, 16, 3, padding=2, dilation=2, groups=4, bias=False)
        self.bn2 = tnn.BatchNorm2d(16)
        self.relu2 = tnn.ReLU()
        self.conv3 = tnn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.relu3 = tnn.ReLU()
        self.fc = tnn.Linear(16, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.relu3(self.conv3(x))
        return self.fc(x.mean((2, 3)))


class CharCNN(tnn.Module):
    def __init__(self):
        super().__init__()
        for w in (3, 4, 5):
            setattr(self, f"conv{w}", tnn.Conv1d(16, 8, w))
            setattr(self, f"relu{w}", tnn.ReLU())
        self.fc = tnn.Linear(24, 5)

    def forward(self, x):
        feats = []
        for w in (3, 4, 5):
            h = getattr(self, f"relu{w}")(getattr(self, f"conv{w}")(x))
            feats.append(F.max_pool1d(h, h.size(2)).squeeze(2))
        return self.fc(torch.cat(feats, 1))


class Regression(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 8, 3, padding=1)
        self.relu1 = tnn.ReLU()
        self.conv2 = tnn.Conv2d(8, 8, 3, padding=1)
        self.relu2 = tnn.ReLU()
        self.fc = tnn.Linear(8, 1)

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


# name -> (module, input shape, explained layer, activations compared, classes, CAM weight key)
NETS = {
    "cnn2d": (CNN2D, (3, 96, 160), "relu3", ["conv1", "bn1", "pool1", "conv2", "relu2", "relu3"], [3, 7], "fc.weight"),
    "charcnn": (CharCNN, (16, 40), "relu4", ["conv3", "relu4", "relu5"], [1, 4], None),
    "regression": (Regression, (3, 48, 48), "relu2", ["relu1", "relu2"], [0], "fc.weight"),
}


import models.testdata.reference as models_ref  # noqa: E402
import gradcam.testdata.reference as gradcam_ref  # noqa: E402
save_safetensors = models_ref.save_safetensors
RuleModule = gradcam_ref.RuleModule


def randomize(model, seed):
    models_ref.randomize_batchnorm(model, torch.Generator().manual_seed(seed))


def scale(x):
    x = x - x.min()
    return x / (x.max() + 1e-7)


def normalize_upsample(low, size):
    """pytorch-grad-cam's pipeline: scale, resize, scale again."""
    x = scale(low)
    mode = "linear" if x.dim() == 1 else "bilinear"
    return scale(F.interpolate(x[None, None], size=size, mode=mode, align_corners=False)[0, 0])


def occlusion(model, x, cls, patch, stride):
    h, w = x.shape[2], x.shape[3]
    pos = lambda n: list(range(0, n - patch, stride)) + [n - patch]
    with torch.no_grad():
        base = model(x)[0, cls]
        total = torch.zeros(h, w)
        count = torch.zeros(h, w)
        for y in pos(h):
            for xx in pos(w):
                xo = x.clone()
                xo[:, :, y:y + patch, xx:xx + patch] = 0
                total[y:y + patch, xx:xx + patch] += base - model(xo)[0, cls]
                count[y:y + patch, xx:xx + patch] += 1
    return total / count


def explain(name, model, x0, layer, classes, cam_key, patch, stride, out, factory=None):
    """Writes every method's arrays; factory makes a fresh module of the model's class (default: by name)."""
    state = {"rule": "backprop"}
    if factory is None:
        factory = CNN2D if name == "cnn2d" else CharCNN if name == "charcnn" else Regression
    ruled = factory()
    ruled.load_state_dict(model.state_dict())
    ruled.eval()
    for parent in list(ruled.modules()):  # every ReLU, nested ones too
        for n, child in list(parent.named_children()):
            if isinstance(child, tnn.ReLU):
                setattr(parent, n, RuleModule(None, state))
    modules = dict(model.named_modules())
    store = {}

    def hook(m, inp, o):
        store["A"] = o
        if o.requires_grad:
            o.register_hook(lambda g: store.__setitem__("dA", g))

    handle = modules[layer].register_forward_hook(hook)
    size = list(x0.shape[2:])
    for i in range(x0.shape[0]):
        xi = x0[i:i + 1]
        for cls in classes:
            d = os.path.join(out, str(i), str(cls))
            os.makedirs(d, exist_ok=True)
            save = lambda k, t: np.save(os.path.join(d, k + ".npy"), t.detach().numpy().astype(np.float32))
            x = xi.clone().requires_grad_(True)
            model(x)[0, cls].backward()
            A, dA = store["A"][0].detach(), store["dA"][0]
            axes = tuple(range(1, A.dim()))
            expand = (slice(None),) + (None,) * (A.dim() - 1)
            for k, sign in (("gradcam", 1), ("counterfactual", -1)):
                alpha = (sign * dA).mean(axes)
                low = torch.relu((alpha[expand] * A).sum(0))
                if k == "gradcam":
                    save("gradcam_lowres", low)
                    gradcam_up = normalize_upsample(low, size)
                save(k, normalize_upsample(low, size))
            save("saliency", x.grad.abs().max(1)[0][0])
            if cam_key is not None:
                w = model.state_dict()[cam_key][cls]
                low = (w[expand] * A).sum(0)
                save("cam_lowres", low)
                save("cam", normalize_upsample(torch.relu(low), size))
            for rule, k in (("guided", "guided-backprop"), ("deconvnet", "deconvnet")):
                state["rule"] = rule
                xr = xi.clone().requires_grad_(True)
                ruled(xr)[0, cls].backward()
                save(k, xr.grad[0])
                if rule == "guided":
                    save("guided-gradcam", xr.grad[0] * gradcam_up[None])
            state["rule"] = "backprop"
            if x0.dim() == 4:
                save("occlusion", occlusion(model, xi, cls, patch, stride))
    handle.remove()


def train_step(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    init = CNN2D()
    randomize(init, 8)
    save_safetensors(init.state_dict(), os.path.join(out, "init.safetensors"))
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(8, 3, 32, 48, generator=gen)
    y = torch.randint(0, 10, (8,), generator=gen)
    np.save(os.path.join(out, "x.npy"), x.numpy())
    np.save(os.path.join(out, "y.npy"), y.numpy().astype(np.int32))
    for opt_name, make in (("sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
                           ("adam", lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-8))):
        model = CNN2D()
        model.load_state_dict(init.state_dict())
        model.train()
        opt = make(model.parameters())
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        save_safetensors(model.state_dict(), os.path.join(out, opt_name + ".safetensors"))
        print("train", opt_name, "loss", float(loss), flush=True)


def main():
    patch, stride, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(os.cpu_count() or 1)
    for i, (name, (cls, shape, layer, acts, classes, cam_key)) in enumerate(NETS.items()):
        torch.manual_seed(100 + i)
        model = cls()
        randomize(model, 200 + i)
        model.eval()
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        save_safetensors(model.state_dict(), os.path.join(d, "weights.safetensors"))
        if name == "regression":  # small checkpoints in PyTorch's two formats: fuzzing seeds
            torch.save(model.state_dict(), os.path.join(d, "weights.pth"))
            torch.save(model.state_dict(), os.path.join(d, "weights_legacy.pth"), _use_new_zipfile_serialization=False)
        x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(300 + i))
        np.save(os.path.join(d, "input.npy"), x.numpy())
        modules = dict(model.named_modules())
        store = {}
        handles = [modules[a].register_forward_hook(lambda m, inp, o, a=a: store.__setitem__(a, o.detach().clone()))
                   for a in acts]
        with torch.no_grad():
            logits = model(x)
        for h in handles:
            h.remove()
        np.save(os.path.join(d, "logits.npy"), logits.numpy())
        for a, v in store.items():
            np.save(os.path.join(d, "act__" + a + ".npy"), v.numpy())
        explain(name, model, x, layer, classes, cam_key, patch, stride, d)
        print(name, "done", flush=True)
    train_step(os.path.join(out, "train"))
    pools(os.path.join(out, "pools"))


# name -> function of x [2, 3, 9, 11]; the Go test builds the same with nn.Pool.
POOLS = {
    "max_k3s2p1": lambda x: F.max_pool2d(x, 3, 2, 1),
    "max_k3s2_ceil": lambda x: F.max_pool2d(x, 3, 2, 0, ceil_mode=True),
    "avg_k2": lambda x: F.avg_pool2d(x, 2),
    "avg_k3s2p1": lambda x: F.avg_pool2d(x, 3, 2, 1),
    "avg_k3s2p1_ceil": lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
    "avg_k3s2p1_ceil_exclude": lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    "adaptive_4x5": lambda x: F.adaptive_avg_pool2d(x, (4, 5)),
    "max1d_k3s2p1": lambda x: F.max_pool1d(x.flatten(2), 3, 2, 1),
    "max_over_time": lambda x: F.max_pool1d(x.flatten(2), x.shape[2] * x.shape[3]).squeeze(2),
}


def pools(out):
    os.makedirs(out, exist_ok=True)
    x = torch.randn(2, 3, 9, 11, generator=torch.Generator().manual_seed(11))
    np.save(os.path.join(out, "x.npy"), x.numpy())
    for name, fn in POOLS.items():
        np.save(os.path.join(out, name + ".npy"), fn(x).numpy())


if __name__ == "__main__":
    main()
