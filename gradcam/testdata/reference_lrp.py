#!/usr/bin/python3
"""LRP as Zennit computes it, the reference for TestLRPMatchesZennit.

Zennit's own composites, rules and canonizers (../shared/peers/zennit, on PYTHONPATH), with its
Gradient attributor and the relevance at the output set to the logit of the class (out * one-hot,
Captum's convention and the toolkit's): EpsilonPlus, EpsilonPlusFlat, EpsilonGammaBox (input
bounds (0 - mean) / std and (1 - mean) / std per channel, ImageNet's normalization),
EpsilonAlpha2Beta1 and EpsilonAlpha2Beta1Flat, and the single-rule LayerMapComposites the
toolkit calls lrp-epsilon, lrp-gamma and lrp-alpha2beta1 (Zennit's base layer map, with the rule
at every convolution and linear layer).

Canonizers: VGGCanonizer for vgg16, ResNetCanonizer for resnet18, SequentialMergeBatchNorm for
squeezenet1_0, and for mobilenet_v2 SequentialMergeBatchNorm plus the residual sum of its
inverted residual blocks as a Sum module and its functional global average pooling as a module
(Zennit's AttributeCanonizer, as its ResNet canonizer does for ResNet's blocks; Zennit has none
for MobileNetV2, and without a module the pooling would pass gradients instead of taking the
Norm rule).

Convolutions without a bias are given a zero bias Parameter first. Zennit 0.5.1's ParamMod
modifies the parameters named_parameters() lists, which omits a bias of None, so after
SequentialMergeBatchNorm has set the merged bias as a plain attribute the rules would leave it
unclamped (z+ and the alpha-beta rules would add the whole merged bias to every term); with a
zero bias Parameter the merged bias is modified as the rules define (and as Zennit 1.0.0, whose
MergeBatchNorm was rewritten, does). The forward is unchanged.

For resnet18 and vgg16 (the random weights of models/testdata/reference.py) and squeezenet1_0 and
mobilenet_v2 (the real weights in ../shared/weights), on cat_dog.png, it writes
OUT/<model>/<method>/<class>.npy: the relevance [3, 224, 224] of classes 243 and 282.

For the user networks of testnets/reference.py (their weights and inputs, from TESTNETS_REF_DIR:
cnn2d, the 1-D charcnn and regression), it writes OUT/<net>/<method>/<class>.npy, the relevance of
both inputs [2, C, ...], with SequentialMergeBatchNorm, their functional spatial mean as an
AdaptiveAvgPool2d module (as for MobileNetV2) and ZBox bounds -5 and 5.

Captum's LRP (../shared/peers/captum) with its EpsilonRule (epsilon 1e-6) at every convolution,
linear layer, pooling and addition, and with its GammaRule (0.25) or Alpha1_Beta0_Rule at the
convolutions instead, on the same four ImageNet networks, writes
OUT/captum/<model>/{lrp-epsilon,gamma,alpha1-beta0}/<class>.npy. Captum's LRP needs what Zennit's canonizers give, done
here by hand: batch norm fused into the convolution before it (torch.nn.utils.fusion) and
replaced by an identity with Captum's IdentityRule, residual sums as Captum's Addition_Module,
MobileNetV2's functional pooling as a module, its ReLU6 among Captum's LRP non-linearities (they
pass relevance), ReLUs not in place and ResNet's reused ReLU split in two.

For vgg16 and mobilenet_v2, lrp-epsilon (Zennit's and Captum's) is also computed in float64:
OUT/<model>/lrp-epsilon/<class>_f64.npy and OUT/captum/<model>/lrp-epsilon/<class>_f64.npy (stored as
float32). With epsilon 1e-6 the rule divides by pre-activations that float32's rounding decides on
these two networks: on a machine with AVX2 only, PyTorch's own float32 maps are up to 3.4% of the
largest value from its float64 ones (the toolkit's up to 0.9%), so a float32 reference would say
which machine made it. In float64 Zennit and the toolkit agree to 1e-6; Captum's map is 0.6% from
them on vgg16, by its epsilon rule at max pooling (where Zennit passes the gradient).

For the ONNX exports of gradcam/testdata/reference_onnx.py (resnet18 and mobilenet_v2 made with
torch.manual_seed(0), which this script makes again the same way), Zennit's lrp-epsilon and
lrp-epsilon-plus on the PyTorch models: OUT/onnx/<arch>/<method>/<class>.npy.

Usage: reference_lrp.py SHARED_DIR MODELS_REF_DIR TESTNETS_REF_DIR OUT
(Zennit is imported from SHARED_DIR/peers/zennit)
"""
# depends on: gradcam/testdata/reference.py
# depends on: testnets/reference.py
# depends on: models/testdata/reference.py
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision.models.mobilenetv2 import InvertedResidual

SHARED, REF, TESTNETS, OUT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
sys.path.insert(0, os.path.join(SHARED, "peers", "zennit"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))  # the repository root
from reference import CLASSES, cat_dog  # noqa: E402
import testnets.reference as testnets_ref  # noqa: E402
from models.testdata.reference import read_safetensors  # noqa: E402

sys.path.insert(0, os.path.join(SHARED, "peers", "captum"))
from captum.attr import LRP  # noqa: E402
from captum.attr._core import lrp as captum_lrp  # noqa: E402
from captum.attr._utils.custom_modules import Addition_Module  # noqa: E402
from captum.attr._utils.lrp_rules import Alpha1_Beta0_Rule, EpsilonRule, GammaRule, IdentityRule  # noqa: E402
from torch.nn.utils.fusion import fuse_conv_bn_eval  # noqa: E402
from torchvision.models.resnet import BasicBlock  # noqa: E402
from zennit.attribution import Gradient  # noqa: E402
from zennit.canonizers import AttributeCanonizer, SequentialMergeBatchNorm  # noqa: E402
from zennit.composites import (EpsilonAlpha2Beta1, EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlus,  # noqa: E402
                               EpsilonPlusFlat, LayerMapComposite, layer_map_base)
from zennit.layer import Sum  # noqa: E402
from zennit.rules import AlphaBeta, Epsilon, Gamma  # noqa: E402
from zennit.torchvision import ResNetCanonizer, VGGCanonizer  # noqa: E402
from zennit.types import Convolution  # noqa: E402

MODELS = {
    "resnet18": "random",
    "vgg16": "random",
    "squeezenet1_0": "squeezenet1_0_deepcompression.pth",
    "mobilenet_v2": "mobilenet_v2_coral_dequant.pth",
}

# The networks whose lrp-epsilon is also computed in float64 (see the docstring).
FLOAT64 = ("vgg16", "mobilenet_v2")

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class MobileNetV2Canonizer(AttributeCanonizer):
    """The residual sum of torchvision's InvertedResidual as a Sum module, and MobileNetV2's
    functional global average pooling as a module, so the Norm rule applies to both."""

    def __init__(self):
        super().__init__(self._attribute_map)

    @classmethod
    def _attribute_map(cls, name, module):
        if isinstance(module, InvertedResidual) and module.use_res_connect:
            return {"forward": cls.residual_forward.__get__(module), "canonizer_sum": Sum()}
        if isinstance(module, torchvision.models.MobileNetV2):
            return {"forward": cls.model_forward.__get__(module), "canonizer_pool": torch.nn.AdaptiveAvgPool2d(1)}
        return None

    @staticmethod
    def residual_forward(self, x):
        return self.canonizer_sum(torch.stack([x, self.conv(x)], dim=-1))

    @staticmethod
    def model_forward(self, x):
        return self.classifier(torch.flatten(self.canonizer_pool(self.features(x)), 1))


def zero_biases(model):
    """A zero bias Parameter for every convolution without one (see the docstring)."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Conv1d, torch.nn.Conv2d)) and module.bias is None:
            module.bias = torch.nn.Parameter(torch.zeros(module.out_channels))


class PooledCNN2D(testnets_ref.CNN2D):
    """testnets' CNN2D with its spatial mean as a module."""

    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.relu3(self.conv3(x))
        return self.fc(self.pool(x).flatten(1))


class PooledRegression(testnets_ref.Regression):
    """testnets' Regression with its spatial mean as a module."""

    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(self.pool(x).flatten(1))


USER_NETS = {"cnn2d": (PooledCNN2D, [3, 7]), "charcnn": (testnets_ref.CharCNN, [1, 4]), "regression": (PooledRegression, [0])}


def canonizers(arch):
    if arch == "vgg16":
        return [VGGCanonizer()]
    if arch.startswith("resnet"):
        return [ResNetCanonizer()]
    if arch == "mobilenet_v2":
        return [SequentialMergeBatchNorm(), MobileNetV2Canonizer()]
    return [SequentialMergeBatchNorm()]


def single(rule):
    def make(canonizers):
        return LayerMapComposite(layer_map=layer_map_base() + [(Convolution, rule), (torch.nn.Linear, rule)],
                                 canonizers=canonizers)
    return make


COMPOSITES = {
    "lrp-epsilon": single(Epsilon(epsilon=1e-6)),
    "lrp-gamma": single(Gamma(gamma=0.25)),
    "lrp-alpha2beta1": single(AlphaBeta(alpha=2, beta=1)),
    "lrp-epsilon-plus": lambda c: EpsilonPlus(canonizers=c),
    "lrp-epsilon-plus-flat": lambda c: EpsilonPlusFlat(canonizers=c),
    "lrp-epsilon-gamma-box": lambda c: EpsilonGammaBox(low=(0 - MEAN) / STD, high=(1 - MEAN) / STD, canonizers=c),
    "lrp-epsilon-alpha2beta1": lambda c: EpsilonAlpha2Beta1(canonizers=c),
    "lrp-epsilon-alpha2beta1-flat": lambda c: EpsilonAlpha2Beta1Flat(canonizers=c),
}


def user_networks(out):
    for name, (cls, classes) in USER_NETS.items():
        model = cls()
        model.load_state_dict(read_safetensors(os.path.join(TESTNETS, name, "weights.safetensors")))
        model.eval()
        zero_biases(model)
        x = torch.from_numpy(np.load(os.path.join(TESTNETS, name, "input.npy")))
        outputs = model(x).shape[1]
        for method, make in COMPOSITES.items():
            os.makedirs(os.path.join(out, name, method), exist_ok=True)
            for c in classes:
                onehot = torch.zeros(1, outputs)
                onehot[0, c] = 1
                if method == "lrp-epsilon-gamma-box":
                    composite = EpsilonGammaBox(low=-5.0, high=5.0, canonizers=[SequentialMergeBatchNorm()])
                else:
                    composite = make([SequentialMergeBatchNorm()])
                with Gradient(model=model, composite=composite) as attributor:
                    _, relevance = attributor(x.clone(), lambda y: y * onehot)
                np.save(os.path.join(out, name, method, f"{c}.npy"), relevance.detach().numpy())


class Fused(torch.nn.Module):
    """What stands where a fused batch norm was: the identity, as a new tensor (Captum's
    IdentityRule hooks its input and output apart)."""

    def forward(self, x):
        return x + 0


def fuse_batch_norms(model):
    """Every batch norm right after a convolution fused into it and replaced by an identity."""
    leaves = [(name, m) for name, m in model.named_modules() if len(list(m.children())) == 0]
    for (cname, conv), (bname, bn) in zip(leaves, leaves[1:]):
        if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
            fused = fuse_conv_bn_eval(conv, bn)
            conv.weight.data, conv.bias = fused.weight.data, fused.bias
            parent = model.get_submodule(bname.rsplit(".", 1)[0]) if "." in bname else model
            setattr(parent, bname.rsplit(".", 1)[-1], Fused())


def captum_basic_block(self, x):
    identity = x
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    if self.downsample is not None:
        identity = self.downsample(x)
    return self.relu_out(self.add(out, identity))


def captum_inverted_residual(self, x):
    return self.add(x, self.conv(x))


def captum_mobilenet(self, x):
    return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def prepare_for_captum(model):
    fuse_batch_norms(model)
    for module in model.modules():
        if isinstance(module, (torch.nn.ReLU, torch.nn.ReLU6)):
            module.inplace = False
        if isinstance(module, BasicBlock):
            module.relu_out, module.add = torch.nn.ReLU(), Addition_Module()
            module.forward = captum_basic_block.__get__(module)
        if isinstance(module, InvertedResidual) and module.use_res_connect:
            module.add = Addition_Module()
            module.forward = captum_inverted_residual.__get__(module)
        if isinstance(module, torchvision.models.MobileNetV2):
            module.pool = torch.nn.AdaptiveAvgPool2d(1)
            module.forward = captum_mobilenet.__get__(module)


def captum_rules(model, conv_rule):
    """The rules, set again before every attribution (Captum removes them after one): conv_rule()
    at convolutions, EpsilonRule(1e-6) at the other layers."""
    for module in model.modules():
        if isinstance(module, Fused):
            module.rule = IdentityRule()
        elif isinstance(module, torch.nn.Conv2d):
            module.rule = conv_rule()
        elif isinstance(module, (torch.nn.Linear, torch.nn.MaxPool2d, torch.nn.AdaptiveAvgPool2d, Addition_Module)):
            module.rule = EpsilonRule(epsilon=1e-6)


# Captum's LRP rules at the convolutions (EpsilonRule(1e-6) elsewhere): name -> rule factory.
CAPTUM_RULES = {"lrp-epsilon": lambda: EpsilonRule(epsilon=1e-6), "gamma": lambda: GammaRule(gamma=0.25),
                "alpha1-beta0": Alpha1_Beta0_Rule}


def captum(out):
    if torch.nn.ReLU6 not in captum_lrp.SUPPORTED_NON_LINEAR_LAYERS:
        captum_lrp.SUPPORTED_NON_LINEAR_LAYERS.append(torch.nn.ReLU6)
    x = cat_dog(SHARED)
    for arch, weights in MODELS.items():
        model = getattr(torchvision.models, arch)()
        path = os.path.join(REF, arch + ".pth") if weights == "random" else os.path.join(SHARED, "weights", weights)
        model.load_state_dict(torch.load(path))
        model.eval()
        prepare_for_captum(model)
        for name, rule in CAPTUM_RULES.items():
            os.makedirs(os.path.join(out, "captum", arch, name), exist_ok=True)
            for c in CLASSES:
                captum_rules(model, rule)
                a = LRP(model).attribute(x.clone(), target=c)
                np.save(os.path.join(out, "captum", arch, name, f"{c}.npy"), a[0].detach().numpy())
        if arch in FLOAT64:  # batch norm fused in float64 too
            model = getattr(torchvision.models, arch)()
            model.load_state_dict(torch.load(path))
            model = model.eval().double()
            prepare_for_captum(model)
            for c in CLASSES:
                captum_rules(model, CAPTUM_RULES["lrp-epsilon"])
                a = LRP(model).attribute(x.clone().double(), target=c)
                np.save(os.path.join(out, "captum", arch, "lrp-epsilon", f"{c}_f64.npy"), a[0].detach().numpy().astype(np.float32))


def onnx_models(out):
    x = cat_dog(SHARED)
    for arch in ("resnet18", "mobilenet_v2"):
        torch.manual_seed(0)
        model = getattr(torchvision.models, arch)().eval()
        zero_biases(model)
        for method in ("lrp-epsilon", "lrp-epsilon-plus"):
            os.makedirs(os.path.join(out, "onnx", arch, method), exist_ok=True)
            for c in CLASSES:
                onehot = torch.zeros(1, 1000)
                onehot[0, c] = 1
                with Gradient(model=model, composite=COMPOSITES[method](canonizers(arch))) as attributor:
                    _, relevance = attributor(x.clone(), lambda y: y * onehot)
                np.save(os.path.join(out, "onnx", arch, method, f"{c}.npy"), relevance[0].detach().numpy())


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    shared, models_ref, out = SHARED, REF, OUT
    onnx_models(out)
    captum(out)
    user_networks(out)
    x = cat_dog(shared)
    def load(arch, weights):
        model = getattr(torchvision.models, arch)()
        path = os.path.join(models_ref, arch + ".pth") if weights == "random" else os.path.join(shared, "weights", weights)
        model.load_state_dict(torch.load(path))
        model.eval()
        zero_biases(model)
        return model

    for arch, weights in MODELS.items():
        model = load(arch, weights)
        for method, make in COMPOSITES.items():
            os.makedirs(os.path.join(out, arch, method), exist_ok=True)
            for c in CLASSES:
                onehot = torch.zeros(1, 1000)
                onehot[0, c] = 1
                with Gradient(model=model, composite=make(canonizers(arch))) as attributor:
                    _, relevance = attributor(x.clone(), lambda y: y * onehot)
                np.save(os.path.join(out, arch, method, f"{c}.npy"), relevance[0].detach().numpy())
        if arch in FLOAT64:
            model = load(arch, weights).double()  # a fresh one: the canonizers leave batch norm in float32
            for c in CLASSES:
                onehot = torch.zeros(1, 1000, dtype=torch.float64)
                onehot[0, c] = 1
                with Gradient(model=model, composite=COMPOSITES["lrp-epsilon"](canonizers(arch))) as attributor:
                    _, relevance = attributor(x.clone().double(), lambda y: y * onehot)
                np.save(os.path.join(out, arch, "lrp-epsilon", f"{c}_f64.npy"), relevance[0].detach().numpy().astype(np.float32))


if __name__ == "__main__":
    main()
