#!/usr/bin/python3
"""DeepLift and DeepLiftShap as Captum computes them, the reference for TestDeepLiftMatchesCaptum.

Captum's own DeepLift and DeepLiftShap (../shared/peers/captum) on resnet18 and vgg16 (the random
weights of models/testdata/reference.py) and squeezenet1_0 and mobilenet_v2 (the real weights in
../shared/weights), on cat_dog.png, classes 243 and 282. What Captum needs of a model, done here
without changing its function:
  - every ReLU is made not in-place, and ResNet's blocks, which call one ReLU module twice, get a
    second ReLU module for the call after the residual sum (Captum refuses a module used twice);
  - ReLU6 is added to Captum's SUPPORTED_NON_LINEAR with Captum's own nonlinear rule (the rescale
    rule Captum applies to ReLU; without it, MobileNetV2's activations would pass gradients);
  - MaxPool2d is removed from SUPPORTED_NON_LINEAR, so max pooling passes its gradient, the
    DeepLIFT authors' default (MaxPoolDeepLiftMode.gradient). Captum's own max-pooling rule takes
    effect only where the pooling does not read a ReLU module's output: the ReLU's hook captured
    the gradient at that tensor before the pooling's hook changed it, and overwrites it. So in
    VGG and ResNet Captum passes max pooling's gradient anyway; in SqueezeNet, whose poolings read
    concatenations, the rule would apply there, with max_unpool keeping one of the contributions
    of overlapping windows where the gradient sums them.

It writes OUT/baselines.npy (3 references [3, 3, 224, 224]: zeros, then two of Gaussian noise, std
0.5, numpy seed 0) and OUT/<model>/<method>/<class>.npy, the attributions [3, 224, 224]:
deeplift against the zero reference, deeplift-shap against the three. For vgg16 it also writes
deeplift/<class>_f64.npy, the same computed in float64: for class 282 the float32 results of any two
implementations differ by 1.5% of the largest value around one unit of features.10, whose input
and reference straddle zero by less than float32's rounding, so that the rescale multiplier
x / (x - r) is decided by rounding (PyTorch's own float32 result matches its float64 one there by
chance).

Usage: reference_deeplift.py SHARED_DIR MODELS_REF_DIR OUT (Captum from SHARED_DIR/peers/captum)
"""
# depends on: gradcam/testdata/reference.py
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision.models.resnet import BasicBlock

SHARED, REF, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(SHARED, "peers", "captum"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from captum.attr import DeepLift, DeepLiftShap  # noqa: E402
from captum.attr._core import deep_lift  # noqa: E402
from reference import CLASSES, cat_dog  # noqa: E402

MODELS = {"resnet18": "random", "vgg16": "random", "squeezenet1_0": "squeezenet1_0_deepcompression.pth",
          "mobilenet_v2": "mobilenet_v2_coral_dequant.pth"}

deep_lift.SUPPORTED_NON_LINEAR[torch.nn.ReLU6] = deep_lift.nonlinear
del deep_lift.SUPPORTED_NON_LINEAR[torch.nn.MaxPool2d]


def basic_block_forward(self, x):
    identity = x
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    if self.downsample is not None:
        identity = self.downsample(x)
    return self.relu_out(out + identity)


def prepare(model):
    for module in model.modules():
        if isinstance(module, (torch.nn.ReLU, torch.nn.ReLU6)):
            module.inplace = False
        if isinstance(module, BasicBlock):
            module.relu_out = torch.nn.ReLU()
            module.forward = basic_block_forward.__get__(module)


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    x = cat_dog(SHARED)
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(0)
    baselines = np.concatenate([np.zeros((1, 3, 224, 224), np.float32),
                                (rng.randn(2, 3, 224, 224) * 0.5).astype(np.float32)])
    np.save(os.path.join(OUT, "baselines.npy"), baselines)
    baselines = torch.from_numpy(baselines)
    for arch, weights in MODELS.items():
        model = getattr(torchvision.models, arch)()
        path = os.path.join(REF, arch + ".pth") if weights == "random" else os.path.join(SHARED, "weights", weights)
        model.load_state_dict(torch.load(path))
        model.eval()
        prepare(model)
        for method in ("deeplift", "deeplift-shap"):
            os.makedirs(os.path.join(OUT, arch, method), exist_ok=True)
        for c in CLASSES:
            a = DeepLift(model).attribute(x.clone(), baselines=baselines[:1], target=c)
            np.save(os.path.join(OUT, arch, "deeplift", f"{c}.npy"), a[0].detach().numpy())
            a = DeepLiftShap(model).attribute(x.clone(), baselines=baselines, target=c)
            np.save(os.path.join(OUT, arch, "deeplift-shap", f"{c}.npy"), a[0].detach().numpy())
        if arch == "vgg16":
            model = model.double()
            for c in CLASSES:
                a = DeepLift(model).attribute(x.clone().double(), baselines=baselines[:1].double(), target=c)
                np.save(os.path.join(OUT, arch, "deeplift", f"{c}_f64.npy"), a[0].detach().numpy().astype(np.float32))


if __name__ == "__main__":
    main()
