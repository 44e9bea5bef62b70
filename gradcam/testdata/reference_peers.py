#!/usr/bin/python3
"""pytorch-grad-cam's own methods (../shared/peers, v1.5.5) as the reference for the CAM family.

For resnet18 (the random weights of models/testdata/reference.py) at layer4 and mobilenet_v2 (the
real weights in ../shared/weights) at features.18, on cat_dog.png, classes 243 and 282
(ClassifierOutputTarget: the logit), for each method it writes OUT/<model>/<class>/:
  <method>.npy         what the method's __call__ returns: the final 224x224 map
  <method>_lowres.npy  its get_cam_image at the layer's resolution, after the ReLU the pipeline
                       applies (eigen methods: the raw projection, before the ReLU, whose sign
                       LAPACK chooses)
  <method>_flipped.npy (eigen methods) the final map of the opposite sign, through pytorch-grad-cam's
                       own scale_cam_image steps (ReLU, scale + resize, scale)

Usage: reference_peers.py SHARED_DIR MODELS_REF_DIR OUT
"""
# depends on: gradcam/testdata/reference.py
import os
import sys

import numpy as np
import torch
import torchvision

SHARED = sys.argv[1]
sys.path.insert(0, os.path.join(SHARED, "peers", "pytorch-grad-cam"))
sys.path.insert(0, os.path.join(SHARED, "peers", "ttach"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_grad_cam as pgc  # noqa: E402
from pytorch_grad_cam.utils.image import scale_cam_image  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from reference import CLASSES, cat_dog  # noqa: E402

METHODS = {
    "gradcam": pgc.GradCAM, "hirescam": pgc.HiResCAM, "gradcam-elementwise": pgc.GradCAMElementWise,
    "gradcam++": pgc.GradCAMPlusPlus, "xgradcam": pgc.XGradCAM, "layercam": pgc.LayerCAM, "fem": pgc.FEM,
    "eigencam": pgc.EigenCAM, "eigen-gradcam": pgc.EigenGradCAM,
}
MODELS = {"resnet18": ("random", "layer4"), "mobilenet_v2": ("mobilenet_v2_coral_dequant.pth", "features.18")}


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    models_ref, out = sys.argv[2], sys.argv[3]
    x = cat_dog(SHARED)
    for arch, (weights, layer) in MODELS.items():
        model = getattr(torchvision.models, arch)()
        path = os.path.join(models_ref, arch + ".pth") if weights == "random" else os.path.join(SHARED, "weights", weights)
        model.load_state_dict(torch.load(path))
        model.eval()
        target_layer = dict(model.named_modules())[layer]
        for name, cls in METHODS.items():
            cam = cls(model=model, target_layers=[target_layer])
            for c in CLASSES:
                d = os.path.join(out, arch, str(c))
                os.makedirs(d, exist_ok=True)
                final = cam(input_tensor=x, targets=[ClassifierOutputTarget(c)])[0]
                acts = cam.activations_and_grads.activations[0].cpu().data.numpy()
                grads = cam.activations_and_grads.gradients[0].cpu().data.numpy() if cam.activations_and_grads.gradients else None
                low = cam.get_cam_image(x, target_layer, [ClassifierOutputTarget(c)], acts, grads, False)[0]
                if name.startswith("eigen"):
                    flipped = scale_cam_image(scale_cam_image(np.maximum(-low, 0)[None], (224, 224)))[0]
                    np.save(os.path.join(d, name + "_flipped.npy"), np.float32(flipped))
                else:
                    low = np.maximum(low, 0)
                np.save(os.path.join(d, name + ".npy"), np.float32(final))
                np.save(os.path.join(d, name + "_lowres.npy"), np.float32(low))
            cam.activations_and_grads.release()
        print(arch, "done", flush=True)


if __name__ == "__main__":
    main()
