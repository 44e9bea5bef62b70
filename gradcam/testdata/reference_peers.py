#!/usr/bin/python3
"""pytorch-grad-cam's own methods (../shared/peers, v1.5.5) as the reference for the CAM family.

For resnet18 and vgg16 (the random weights of models/testdata/reference.py) and mobilenet_v2 (the
real weights in ../shared/weights), on cat_dog.png, classes 243 and 282 (ClassifierOutputTarget:
the logit), it writes OUT/<model>/<class>/:
  <method>.npy         what the method's __call__ returns: the final 224x224 map, at the model's
                       default layer (layer4, features.29, features.18)
  <method>_lowres.npy  its get_cam_image at the layer's resolution, after the ReLU the pipeline
                       applies (eigen methods: the raw projection, before the ReLU, whose sign
                       LAPACK chooses)
  <method>_flipped.npy (eigen methods) the final map of the opposite sign, through pytorch-grad-cam's
                       own scale_cam_image steps (ReLU, scale + resize, scale)
for the gradient CAM methods, eigencam, eigen-gradcam, fem, ablationcam and fullgrad, and:
  scorecam.npy, scorecam_lowres.npy   ScoreCAM at an early layer with few channels (SCORE_LAYERS),
                       on the image downscaled to 112x112 (scorecam_input.npy, 1x3x112x112): it
                       runs one forward per channel
  gradcam_aug.npy      GradCAM with aug_smooth=True
  gradcam_eigen.npy, gradcam_eigen_flipped.npy
                       GradCAM with eigen_smooth=True (and the opposite sign, as above)
  gradcam_multi.npy    GradCAM with two target layers (MULTI_LAYERS)
  <method>_cf.npy, <method>_cf_lowres.npy
                       the gradient methods (COUNTERFACTUAL) explaining minus the logit: their
                       counterfactual maps (the layer gradients negated)

For vgg16 it also writes OUT/vgg16/<class>/f64/: the gradient CAM methods (and _cf), fullgrad and
gradcam_multi computed in float64 (the model and input in double). Where VGG-16's max pools hold
near-ties, float32 rounding can send a gradient to the other position of a window, in PyTorch as
in Go; the test then checks the float64 computations against each other (as parity_test does).

AblationCAM is run with one documented change: its weights (y - y_k) / y are multiplied by
sign(y), i.e. divided by |y| (see gradcam.PerturbationOptions); the rest is its own code. It is
run on the network's tail (TAILS: the explained layer and what follows), fed the activation the
layer receives: its ablation layer replaces the layer's output anyway, and the full network would
recompute the layers before it for every batch of ablated channels (hours for VGG-16 here). The
final map is then its low-res map through pytorch-grad-cam's own scale_cam_image steps.

Usage: reference_peers.py SHARED_DIR MODELS_REF_DIR OUT
"""
# depends on: gradcam/testdata/reference.py
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

SHARED = sys.argv[1]
sys.path.insert(0, os.path.join(SHARED, "peers", "pytorch-grad-cam"))
sys.path.insert(0, os.path.join(SHARED, "peers", "ttach"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_grad_cam as pgc  # noqa: E402
from pytorch_grad_cam.utils.image import scale_cam_image  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from reference import CLASSES, cat_dog  # noqa: E402


class AblationCAMAbsScore(pgc.AblationCAM):
    """AblationCAM dividing by |y| instead of y (its issue #555); otherwise its own code."""

    def get_cam_weights(self, input_tensor, target_layer, targets, activations, grads):
        weights = super().get_cam_weights(input_tensor, target_layer, targets, activations, grads)
        with torch.no_grad():
            scores = np.float32([t(o).cpu().item() for t, o in zip(targets, self.model(input_tensor))])
        self.last_weights = weights * np.sign(scores)[:, None]
        return self.last_weights


METHODS = {
    "gradcam": pgc.GradCAM, "hirescam": pgc.HiResCAM, "gradcam-elementwise": pgc.GradCAMElementWise,
    "gradcam++": pgc.GradCAMPlusPlus, "xgradcam": pgc.XGradCAM, "layercam": pgc.LayerCAM, "fem": pgc.FEM,
    "eigencam": pgc.EigenCAM, "eigen-gradcam": pgc.EigenGradCAM,
}
MODELS = {"resnet18": ("random", "layer4"), "vgg16": ("random", "features.29"),
          "mobilenet_v2": ("mobilenet_v2_coral_dequant.pth", "features.18")}
SCORE_LAYERS = {"resnet18": "layer1", "vgg16": "features.4", "mobilenet_v2": "features.3"}
MULTI_LAYERS = {"resnet18": ["layer3", "layer4"], "vgg16": ["features.22", "features.29"],
                "mobilenet_v2": ["features.17", "features.18"]}


def tail(arch, model):
    """The explained layer and what follows it, as one module, and the module whose input it takes."""
    flat = torch.nn.Flatten(1)
    if arch == "resnet18":
        return torch.nn.Sequential(model.layer4, model.avgpool, flat, model.fc), model.layer4
    if arch == "vgg16":
        return torch.nn.Sequential(model.features[29], model.features[30], model.avgpool, flat, model.classifier), model.features[29]
    return torch.nn.Sequential(model.features[18], torch.nn.AdaptiveAvgPool2d(1), flat, model.classifier), model.features[18]


def ablation(arch, model, x, c, d):
    """AblationCAM (dividing by |y|) on the network's tail; writes ablationcam.npy and _lowres.npy."""
    net, first = tail(arch, model)
    seen = []
    hook = first.register_forward_pre_hook(lambda _m, inp: seen.append(inp[0].detach().clone()))
    with torch.no_grad():
        model(x)
    hook.remove()
    cam = AblationCAMAbsScore(model=net, target_layers=[net[0]])
    targets = [ClassifierOutputTarget(c)]
    cam(input_tensor=seen[0], targets=targets)
    acts = cam.activations_and_grads.activations[0].cpu().data.numpy()
    low = np.maximum((cam.last_weights[:, :, None, None] * acts).sum(axis=1), 0)
    final = scale_cam_image(scale_cam_image(low, (224, 224)))[0]
    cam.activations_and_grads.release()
    np.save(os.path.join(d, "ablationcam.npy"), np.float32(final))
    np.save(os.path.join(d, "ablationcam_lowres.npy"), np.float32(low[0]))


def flipped(low):
    """The final map of the opposite projection sign, through scale_cam_image as the pipeline does."""
    return scale_cam_image(scale_cam_image(np.maximum(-low, 0)[None], (224, 224)))[0]


COUNTERFACTUAL = ["gradcam", "hirescam", "gradcam-elementwise", "gradcam++", "xgradcam", "layercam"]


class NegatedTarget:
    """Minus the class's logit: the gradients of the counterfactual explanation."""

    def __init__(self, c):
        self.c = c

    def __call__(self, output):
        return -output[..., self.c]


def run(cam, x, c, d, name, eigen_smooth=False):
    """Writes the final and low-res maps of cam for class c as <name>.npy and <name>_lowres.npy
    (names ending in _cf: for minus the logit)."""
    targets = [NegatedTarget(c) if name.endswith("_cf") else ClassifierOutputTarget(c)]
    final = cam(input_tensor=x, targets=targets, eigen_smooth=eigen_smooth)[0]
    acts = cam.activations_and_grads.activations[0].cpu().data.numpy()
    grads = cam.activations_and_grads.gradients[0].cpu().data.numpy() if cam.activations_and_grads.gradients else None
    low = cam.get_cam_image(x, cam.target_layers[0], targets, acts, grads, eigen_smooth)[0]
    if name.startswith("eigen") or eigen_smooth:
        np.save(os.path.join(d, name + "_flipped.npy"), np.float32(flipped(low)))
    else:
        low = np.maximum(low, 0)
    np.save(os.path.join(d, name + ".npy"), np.float32(final))
    np.save(os.path.join(d, name + "_lowres.npy"), np.float32(low))


F64_METHODS = ["gradcam", "hirescam", "gradcam-elementwise", "gradcam++", "xgradcam", "layercam"]


def float64(arch, model, x, dirs, layer):
    """The gradient CAM methods (and their counterfactuals), fullgrad and gradcam_multi in float64,
    into <class>/f64/."""
    model = model.double()
    x = x.double()
    modules = dict(model.named_modules())
    for c in CLASSES:
        os.makedirs(os.path.join(dirs[c], "f64"), exist_ok=True)
    for name in F64_METHODS:
        cam = METHODS[name](model=model, target_layers=[modules[layer]])
        for c in CLASSES:
            run(cam, x, c, os.path.join(dirs[c], "f64"), name)
            run(cam, x, c, os.path.join(dirs[c], "f64"), name + "_cf")
        cam.activations_and_grads.release()
    for name, cam in (("fullgrad", pgc.FullGrad(model=model, target_layers=[])),
                      ("gradcam_multi", pgc.GradCAM(model=model, target_layers=[modules[n] for n in MULTI_LAYERS[arch]]))):
        for c in CLASSES:
            np.save(os.path.join(dirs[c], "f64", name + ".npy"),
                    np.float32(cam(input_tensor=x, targets=[ClassifierOutputTarget(c)])[0]))
        cam.activations_and_grads.release()
    model.float()


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    models_ref, out = sys.argv[2], sys.argv[3]
    x = cat_dog(SHARED)
    small = F.interpolate(x, size=(112, 112), mode="bilinear", align_corners=False)
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "scorecam_input.npy"), small.numpy())
    for arch, (weights, layer) in MODELS.items():
        model = getattr(torchvision.models, arch)()
        path = os.path.join(models_ref, arch + ".pth") if weights == "random" else os.path.join(SHARED, "weights", weights)
        model.load_state_dict(torch.load(path))
        model.eval()
        modules = dict(model.named_modules())
        target_layer = modules[layer]
        dirs = {}
        for c in CLASSES:
            dirs[c] = os.path.join(out, arch, str(c))
            os.makedirs(dirs[c], exist_ok=True)
        for name, cls in METHODS.items():
            cam = cls(model=model, target_layers=[target_layer])
            for c in CLASSES:
                run(cam, x, c, dirs[c], name)
                if name in COUNTERFACTUAL:
                    run(cam, x, c, dirs[c], name + "_cf")
            cam.activations_and_grads.release()
        for c in CLASSES:
            ablation(arch, model, x, c, dirs[c])
        cam = pgc.GradCAM(model=model, target_layers=[target_layer])
        for c in CLASSES:
            run(cam, x, c, dirs[c], "gradcam_eigen", eigen_smooth=True)
            aug = cam(input_tensor=x, targets=[ClassifierOutputTarget(c)], aug_smooth=True)[0]
            np.save(os.path.join(dirs[c], "gradcam_aug.npy"), np.float32(aug))
        cam.activations_and_grads.release()
        cam = pgc.GradCAM(model=model, target_layers=[modules[n] for n in MULTI_LAYERS[arch]])
        for c in CLASSES:
            np.save(os.path.join(dirs[c], "gradcam_multi.npy"),
                    np.float32(cam(input_tensor=x, targets=[ClassifierOutputTarget(c)])[0]))
        cam.activations_and_grads.release()
        cam = pgc.FullGrad(model=model, target_layers=[])
        for c in CLASSES:
            np.save(os.path.join(dirs[c], "fullgrad.npy"),
                    np.float32(cam(input_tensor=x, targets=[ClassifierOutputTarget(c)])[0]))
        cam.activations_and_grads.release()
        cam = pgc.ScoreCAM(model=model, target_layers=[modules[SCORE_LAYERS[arch]]])
        for c in CLASSES:
            run(cam, small, c, dirs[c], "scorecam")
        cam.activations_and_grads.release()
        if arch == "vgg16":
            float64(arch, model, x, dirs, layer)
        print(arch, "done", flush=True)


if __name__ == "__main__":
    main()
