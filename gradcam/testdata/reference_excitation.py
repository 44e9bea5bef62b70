#!/usr/bin/python3
"""Excitation backprop as Zennit computes it, the reference for TestExcitationBackpropMatchesZennit.

Excitation backprop's marginal winning probability (Zhang et al. 2016) is LRP's z+ rule without
biases, started from the class's one-hot: Zennit's ZPlus(zero_params="bias") at every convolution
and linear layer, with its base layer map (activations and batch norm pass, sums and average
pooling take the Norm rule) and canonizers (batch norm merged, ResNet's sums). To get it at an
inner layer, Zennit explains the part of the network above that layer, fed the layer's
activations. The contrastive variant subtracts the same computed with the last linear layer's
weights and bias negated (the class's dual unit).

For vgg16 at features.29 and features.22 and resnet18 at layer3 (random weights of
models/testdata/reference.py), on cat_dog.png, classes 243 and 282, it writes
OUT/<model>/<layer>/<method>/<class>.npy: the map at the layer's resolution, summed over channels,
before the ReLU.

Usage: reference_excitation.py SHARED_DIR MODELS_REF_DIR OUT (Zennit from SHARED_DIR/peers/zennit)
"""
# depends on: gradcam/testdata/reference.py
import copy
import os
import sys

import numpy as np
import torch
import torchvision

SHARED, REF, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(SHARED, "peers", "zennit"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import CLASSES, cat_dog  # noqa: E402
from zennit.attribution import Gradient  # noqa: E402
from zennit.composites import LayerMapComposite, layer_map_base  # noqa: E402
from zennit.rules import ZPlus  # noqa: E402
from zennit.torchvision import ResNetCanonizer, VGGCanonizer  # noqa: E402
from zennit.types import Convolution  # noqa: E402


def zero_biases(model):
    """A zero bias Parameter for every convolution without one (see reference_lrp.py)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) and module.bias is None:
            module.bias = torch.nn.Parameter(torch.zeros(module.out_channels))


class Above(torch.nn.Module):
    """The part of a network above one of its layers, as a module of its own."""

    def __init__(self, arch, model, layer):
        super().__init__()
        self.arch, self.model, self.layer = arch, model, layer

    def forward(self, a):
        m = self.model
        if self.arch == "vgg16":
            start = int(self.layer.split(".")[1]) + 1
            a = m.features[start:](a)
            return m.classifier(torch.flatten(m.avgpool(a), 1))
        a = m.layer4(a)  # resnet18 above layer3
        return m.fc(torch.flatten(m.avgpool(a), 1))


def below(arch, model, layer, x):
    acts = {}
    handle = model.get_submodule(layer).register_forward_hook(lambda mod, i, o: acts.__setitem__("a", o.detach()))
    with torch.no_grad():
        model(x)
    handle.remove()
    return acts["a"]


def excitation(arch, model, layer, a, c, negate):
    model = copy.deepcopy(model)
    last = model.classifier[6] if arch == "vgg16" else model.fc
    if negate:
        last.weight.data.neg_()
        last.bias.data.neg_()
    zero_biases(model)
    rule = ZPlus(zero_params="bias")
    canon = [VGGCanonizer()] if arch == "vgg16" else [ResNetCanonizer()]
    composite = LayerMapComposite(layer_map=layer_map_base() + [(Convolution, rule), (torch.nn.Linear, rule)],
                                  canonizers=canon)
    onehot = torch.zeros(1, 1000)
    onehot[0, c] = 1
    with Gradient(model=Above(arch, model, layer), composite=composite) as attributor:
        _, r = attributor(a.clone(), onehot)
    return r[0].sum(0).detach().numpy()


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    x = cat_dog(SHARED)
    for arch, layers in (("vgg16", ["features.29", "features.22"]), ("resnet18", ["layer3"])):
        model = getattr(torchvision.models, arch)()
        model.load_state_dict(torch.load(os.path.join(REF, arch + ".pth")))
        model.eval()
        for layer in layers:
            a = below(arch, model, layer, x)
            for c in CLASSES:
                eb = excitation(arch, model, layer, a, c, False)
                dual = excitation(arch, model, layer, a, c, True)
                for method, v in (("excitation-backprop", eb), ("contrastive-excitation-backprop", eb - dual)):
                    os.makedirs(os.path.join(OUT, arch, layer, method), exist_ok=True)
                    np.save(os.path.join(OUT, arch, layer, method, f"{c}.npy"), v)


if __name__ == "__main__":
    main()
