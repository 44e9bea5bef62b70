#!/usr/bin/python3
"""Times every explanation method at batch 1 in its reference library, for bench/RESULTS.md's
comparison with BenchmarkMethods: pytorch-grad-cam (../shared/peers, v1.5.5) for the CAM family,
FullGrad and guided backprop; Captum for saliency, the deconvnet, occlusion, Input x Gradient,
Integrated Gradients, SmoothGrad, GradientShap, DeepLift and DeepLiftShap (prepared as
gradcam/testdata/reference_deeplift.py prepares them, ResNet's bottlenecks too); Zennit for the
LRP methods (its composites with the canonizers of gradcam/testdata/reference_lrp.py) and
excitation backprop (z+ without biases above the explained layer, as
gradcam/testdata/reference_excitation.py computes it); Captum's Lime and KernelShap over 49
square superpixels (a 7x7 grid: the Go side draws 50 SLIC superpixels), 200 samples, 8 per
forward. Same random-weight checkpoints, image (cat_dog.png, 224x224) and class (243) as the Go
benchmark; 2 threads. Median of 3 runs after one warm-up call; one run
for Score-CAM, Ablation-CAM and FullGrad (tens of seconds to minutes). Methods without a reference implementation here
(CAM, counterfactual Grad-CAM) are left out.

Usage: peers_bench.py MODELS_REF_DIR SHARED_DIR OUT.json [MODELS] [METHODS]
"""
import copy
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torchvision

REF, SHARED, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(SHARED, "peers", "pytorch-grad-cam"))
sys.path.insert(0, os.path.join(SHARED, "peers", "ttach"))
sys.path.insert(0, os.path.join(SHARED, "peers", "captum"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gradcam", "testdata"))
import pytorch_grad_cam as pgc  # noqa: E402
sys.path.insert(0, os.path.join(SHARED, "peers", "zennit"))
from captum.attr import (DeepLift, DeepLiftShap, Deconvolution, GradientShap, InputXGradient,  # noqa: E402
                         IntegratedGradients, KernelShap, Lime, NoiseTunnel, Occlusion, Saliency)
from torchvision.models.resnet import Bottleneck  # noqa: E402
from zennit.attribution import Gradient as ZennitGradient  # noqa: E402
from zennit.composites import LayerMapComposite, layer_map_base  # noqa: E402
from zennit.rules import ZPlus  # noqa: E402
from zennit.torchvision import ResNetCanonizer, VGGCanonizer  # noqa: E402
from zennit.types import Convolution  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from reference import cat_dog  # noqa: E402
sys.argv = sys.argv[:1] + [SHARED, REF, "", ""] + sys.argv[1:]  # what the reference scripts read at import
import reference_deeplift  # noqa: E402
import reference_excitation  # noqa: E402
import reference_lrp  # noqa: E402
sys.argv = sys.argv[:1] + sys.argv[5:]

LAYERS = {"resnet50": "layer4", "vgg16": "features.29"}
CLASS = 243
CAMS = {"gradcam": pgc.GradCAM, "hirescam": pgc.HiResCAM, "gradcam-elementwise": pgc.GradCAMElementWise,
        "gradcam++": pgc.GradCAMPlusPlus, "xgradcam": pgc.XGradCAM, "layercam": pgc.LayerCAM, "fem": pgc.FEM,
        "eigencam": pgc.EigenCAM, "eigen-gradcam": pgc.EigenGradCAM, "scorecam": pgc.ScoreCAM,
        "ablationcam": pgc.AblationCAM}
SLOW = {"scorecam", "ablationcam", "fullgrad"}


def methods(model, layer):
    """Method name -> (library, a function computing it on x)."""
    target = [ClassifierOutputTarget(CLASS)]
    name_of = {m: n for n, m in model.named_modules()}
    out = {}
    for name, cls in CAMS.items():
        def run(x, cls=cls):
            cam = cls(model=model, target_layers=[layer])
            cam(input_tensor=x, targets=target)
            cam.activations_and_grads.release()
        out[name] = ("pytorch-grad-cam", run)

    def fullgrad(x):
        cam = pgc.FullGrad(model=model, target_layers=[])
        cam(input_tensor=x, targets=target)
        cam.activations_and_grads.release()
    out["fullgrad"] = ("pytorch-grad-cam", fullgrad)
    gb = pgc.GuidedBackpropReLUModel(model=model, device="cpu")
    out["guided-backprop"] = ("pytorch-grad-cam", lambda x: gb(x, target_category=CLASS))

    def guided_gradcam(x):  # pytorch-grad-cam's README recipe
        # GuidedBackpropReLUModel puts new ReLU modules back: look the layer up again (VGG's is a ReLU).
        cam = pgc.GradCAM(model=model, target_layers=[model.get_submodule(name_of[layer])])
        mask = cam(input_tensor=x, targets=target)[0]
        cam.activations_and_grads.release()
        return gb(x, target_category=CLASS) * mask[..., None]
    out["guided-gradcam"] = ("pytorch-grad-cam", guided_gradcam)
    out["saliency"] = ("Captum", lambda x: Saliency(model).attribute(x, target=CLASS))
    out["deconvnet"] = ("Captum", lambda x: Deconvolution(model).attribute(x, target=CLASS))
    out["occlusion"] = ("Captum", lambda x: Occlusion(model).attribute(
        x, sliding_window_shapes=(3, 56, 56), strides=(3, 28, 28), target=CLASS, perturbations_per_eval=7))
    out["input-x-gradient"] = ("Captum", lambda x: InputXGradient(model).attribute(x, target=CLASS))
    out["integrated-gradients"] = ("Captum", lambda x: IntegratedGradients(model).attribute(
        x, target=CLASS, n_steps=50, internal_batch_size=16))
    out["smoothgrad"] = ("Captum", lambda x: NoiseTunnel(Saliency(model)).attribute(
        x, nt_type="smoothgrad", nt_samples=5, stdevs=1.0, target=CLASS))
    out["gradient-shap"] = ("Captum", lambda x: GradientShap(model).attribute(
        x, baselines=torch.zeros_like(x), n_samples=5, target=CLASS))
    grid = torch.arange(224)[:, None] // 32 * 7 + torch.arange(224)[None, :] // 32  # 7x7 cells of 32 px
    mask = grid[None, None].expand(1, 3, 224, 224)
    for name, cls in (("lime", Lime), ("kernel-shap", KernelShap)):
        out[name] = ("Captum", lambda x, cls=cls: cls(model).attribute(
            x, baselines=0.0, target=CLASS, feature_mask=mask, n_samples=200, perturbations_per_eval=8))
    return out


class Above(torch.nn.Module):
    """The part of a network above its explained layer (LAYERS), fed that layer's activations."""

    def __init__(self, arch, model):
        super().__init__()
        self.arch, self.model = arch, model

    def forward(self, a):
        m = self.model
        if self.arch == "vgg16":
            a = m.features[30:](a)  # above features.29
            return m.classifier(torch.flatten(m.avgpool(a), 1))
        return m.fc(torch.flatten(m.avgpool(a), 1))  # resnet50 above layer4


def excitation_methods(model, arch):
    """Excitation backprop and its contrastive variant at the explained layer: the forward pass
    to the layer, then Zennit's z+ (biases zeroed) above it from the class's one-hot, and for
    the contrastive one the same with the last layer negated (models prepared once)."""
    def prepare(negate):
        m = copy.deepcopy(model)
        last = m.classifier[6] if arch == "vgg16" else m.fc
        if negate:
            last.weight.data.neg_()
            last.bias.data.neg_()
        reference_excitation.zero_biases(m)
        rule = ZPlus(zero_params="bias")
        composite = LayerMapComposite(layer_map=layer_map_base() + [(Convolution, rule), (torch.nn.Linear, rule)],
                                      canonizers=[VGGCanonizer()] if arch == "vgg16" else [ResNetCanonizer()])
        return Above(arch, m), composite
    plain, dual = prepare(False), prepare(True)
    # The forward pass to the layer on a copy of its own: pytorch-grad-cam's guided backprop,
    # timed before, puts one shared ReLU module back at every ReLU of `model`, and a hook on
    # VGG's features.29 would then see the classifier's ReLUs too.
    model = copy.deepcopy(model)
    onehot = torch.zeros(1, 1000)
    onehot[0, CLASS] = 1

    def relevance(above, composite, a):
        with ZennitGradient(model=above, composite=composite) as attributor:
            return attributor(a.clone(), onehot)[1][0].sum(0)

    def eb(x):
        return relevance(*plain, reference_excitation.below(arch, model, LAYERS[arch], x))

    def ceb(x):
        a = reference_excitation.below(arch, model, LAYERS[arch], x)
        return relevance(*plain, a) - relevance(*dual, a)
    return {"excitation-backprop": ("Zennit", eb), "contrastive-excitation-backprop": ("Zennit", ceb)}


def bottleneck_forward(self, x):
    identity = x
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.relu2(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    if self.downsample is not None:
        identity = self.downsample(x)
    return self.relu_out(out + identity)


def deeplift_methods(model):
    """DeepLift and DeepLiftShap on a copy of the model Captum can hook (ReLUs not in place, none
    used twice)."""
    reference_deeplift.prepare(model)
    for module in model.modules():
        if isinstance(module, Bottleneck):
            module.relu2, module.relu_out = torch.nn.ReLU(), torch.nn.ReLU()
            module.forward = bottleneck_forward.__get__(module)
    return {
        "deeplift": ("Captum", lambda x: DeepLift(model).attribute(x, baselines=torch.zeros_like(x), target=CLASS)),
        # Captum's DeepLiftShap refuses fewer than two references: two zero ones (Go's default is
        # one, so Captum does twice the work here).
        "deeplift-shap": ("Captum", lambda x: DeepLiftShap(model).attribute(
            x, baselines=torch.zeros(2, *x.shape[1:]), target=CLASS)),
    }


def lrp_methods(model, arch):
    onehot = torch.zeros(1, 1000)
    onehot[0, CLASS] = 1
    out = {}
    for name, make in reference_lrp.COMPOSITES.items():
        def run(x, make=make):
            with ZennitGradient(model=model, composite=make(reference_lrp.canonizers(arch))) as attributor:
                attributor(x, lambda y: y * onehot)
        out[name] = ("Zennit", run)
    return out


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    archs = sys.argv[4].split(",") if len(sys.argv) > 4 else list(LAYERS)
    only = sys.argv[5].split(",") if len(sys.argv) > 5 else None
    x = cat_dog(SHARED)
    results = []
    for arch in archs:
        model = getattr(torchvision.models, arch)()
        model.load_state_dict(torch.load(os.path.join(REF, arch + ".pth")))
        model.eval()
        layer = dict(model.named_modules())[LAYERS[arch]]
        all_methods = methods(model, layer)
        if not only or any(m.startswith("lrp-") for m in only):
            lrp_model = getattr(torchvision.models, arch)()
            lrp_model.load_state_dict(torch.load(os.path.join(REF, arch + ".pth")))
            lrp_model.eval()
            reference_lrp.zero_biases(lrp_model)
            all_methods.update(lrp_methods(lrp_model, arch))
        if not only or any("excitation" in m for m in only):
            all_methods.update(excitation_methods(model, arch))
        if not only or any(m.startswith("deeplift") for m in only):
            dl_model = getattr(torchvision.models, arch)()
            dl_model.load_state_dict(torch.load(os.path.join(REF, arch + ".pth")))
            dl_model.eval()
            all_methods.update(deeplift_methods(dl_model))
        for name, (library, fn) in all_methods.items():
            if only and name not in only:
                continue
            runs = 1 if name in SLOW else 3
            if name not in SLOW:
                fn(x)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                fn(x)
                times.append(time.perf_counter() - start)
            t = statistics.median(times)
            print(f"{arch} {name} ({library}): {t:.3f} s", flush=True)
            results.append({"model": arch, "method": name, "batch": 1, "seconds": t, "library": library})
    with open(OUT, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    np.random.seed(0)
    main()
