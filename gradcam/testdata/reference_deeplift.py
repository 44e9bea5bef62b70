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
<method>/<class>_f64.npy, both methods computed in float64 (stored as float32): on the random-weight
VGG-16 some units' input and reference straddle zero by less than float32's rounding, so that
their rescale multipliers x / (x - r) are decided by rounding, and any two float32
implementations differ by several percent of the largest value: on a machine with AVX2 only,
PyTorch's own float32 maps are 2.9-5.3% from its float64 ones and the toolkit's 0.6-1.5%. A float32
reference would say which machine made it; in float64 Captum and the toolkit agree to 1e-6.

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
                a = DeepLiftShap(model).attribute(x.clone().double(), baselines=baselines.double(), target=c)
                np.save(os.path.join(OUT, arch, "deeplift-shap", f"{c}_f64.npy"), a[0].detach().numpy().astype(np.float32))


if __name__ == "__main__":
    main()
