#!/usr/bin/python3
"""What a pytorch-grad-cam user runs to explain one image, as its README shows it: build the
torchvision model, load the checkpoint, GradCAM on the layer with ClassifierOutputTarget, the
overlay with show_cam_on_image, written as a PNG. bench/process.py times it as a whole process
against `gradcam explain`.

Usage: peer_explain.py SHARED ARCH CHECKPOINT IMAGE LAYER CLASS OUT.png
"""
import os
import sys

SHARED, ARCH, WEIGHTS, IMAGE, LAYER, CLASS, OUT = sys.argv[1:8]
sys.path.insert(0, os.path.join(SHARED, "peers", "pytorch-grad-cam"))
sys.path.insert(0, os.path.join(SHARED, "peers", "ttach"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.utils.image import preprocess_image, show_cam_on_image  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402

model = getattr(torchvision.models, ARCH)()
model.load_state_dict(torch.load(WEIGHTS))
model.eval()
rgb = cv2.resize(cv2.imread(IMAGE, 1)[:, :, ::-1], (224, 224))
rgb = np.float32(rgb) / 255
x = preprocess_image(rgb, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
with GradCAM(model=model, target_layers=[dict(model.named_modules())[LAYER]]) as cam:
    gray = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(CLASS))])[0, :]
    cv2.imwrite(OUT, cv2.cvtColor(show_cam_on_image(rgb, gray, use_rgb=True), cv2.COLOR_RGB2BGR))
