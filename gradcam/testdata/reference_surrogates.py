#!/usr/bin/python3
"""LIME and KernelSHAP as Captum computes them, the reference for TestSurrogatesMatchCaptum.

Captum's own Lime (its defaults: a Lasso of alpha 0.01, the exponential kernel of width 1 on the
cosine distance) and KernelShap (least squares, its weight of 1e6 on the all-on and all-off
samples), on resnet18 and vgg16 (the random weights of models/testdata/reference.py) and
squeezenet1_0 and mobilenet_v2 (the real weights in ../shared/weights), on cat_dog.png, classes
243 and 282, baseline zeros. The features are scikit-image's SLIC superpixels of the picture
(n_segments 25, compactness 10). The samples are drawn once by Captum's own samplers
(default_perturb_func for LIME, KernelShap's kernel_shap_perturb_generator, torch seed 0) and
replayed for every model and class, so the Go test can take the same ones.

It writes OUT/segments.npy ([224, 224] labels), OUT/<method>_samples.npy ([N, M] 0/1) and
OUT/<model>/<method>/<class>.npy, the attributions [224, 224] (one channel of Captum's
[3, 224, 224], equal across channels).

Usage: reference_surrogates.py SHARED_DIR MODELS_REF_DIR SAMPLES OUT (Captum from SHARED_DIR/peers/captum)
"""
# depends on: gradcam/testdata/reference.py
import os
import sys

import numpy as np
import torch
import torchvision
from skimage.segmentation import slic

SHARED, REF, N, OUT = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, os.path.join(SHARED, "peers", "captum"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from captum.attr import KernelShap, Lime  # noqa: E402
from captum.attr._core.lime import default_perturb_func  # noqa: E402
from reference import CLASSES, MEAN, STD, cat_dog  # noqa: E402

MODELS = {"resnet18": "random", "vgg16": "random", "squeezenet1_0": "squeezenet1_0_deepcompression.pth",
          "mobilenet_v2": "mobilenet_v2_coral_dequant.pth"}


def replay(samples):
    def perturb(original_inp, **kwargs):
        for s in samples:
            yield s
    return perturb


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(0)
    x = cat_dog(SHARED)
    picture = (x[0].numpy().transpose(1, 2, 0) * STD + MEAN).clip(0, 1)
    segments = slic(picture, n_segments=25, compactness=10, start_label=0)
    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "segments.npy"), segments.astype(np.float32))
    mask = torch.from_numpy(segments).long()[None, None].expand(1, 3, 224, 224)
    m = int(segments.max()) + 1
    ks = KernelShap(lambda t: t)
    dist = torch.distributions.Categorical(torch.cat([torch.zeros(1), (m - 1) / (torch.arange(1, m) * (m - torch.arange(1, m)))]))
    gen = ks.kernel_shap_perturb_generator(x, num_select_distribution=dist, num_interp_features=m)
    samples = {"kernel-shap": [next(gen) for _ in range(N)],
               "lime": [default_perturb_func(x, num_interp_features=m) for _ in range(N)]}
    for name, s in samples.items():
        np.save(os.path.join(OUT, f"{name}_samples.npy"), torch.cat(s).numpy().astype(np.float32))
    for arch, weights in MODELS.items():
        model = getattr(torchvision.models, arch)()
        path = os.path.join(REF, arch + ".pth") if weights == "random" else os.path.join(SHARED, "weights", weights)
        model.load_state_dict(torch.load(path))
        model.eval()
        for name, cls in (("lime", Lime), ("kernel-shap", KernelShap)):
            os.makedirs(os.path.join(OUT, arch, name), exist_ok=True)
            for c in CLASSES:
                explainer = cls(model)
                explainer.perturb_func = replay(samples[name])
                with torch.no_grad():
                    a = explainer.attribute(x.clone(), baselines=0.0, target=c, feature_mask=mask, n_samples=N,
                                            perturbations_per_eval=20)
                np.save(os.path.join(OUT, arch, name, f"{c}.npy"), a[0, 0].numpy())


if __name__ == "__main__":
    main()
