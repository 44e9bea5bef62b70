#!/usr/bin/python3
"""What a Captum user runs to explain one image with an input attribution, as Captum's tutorials
show it: build the torchvision model, load the checkpoint, preprocess the image, the method's
attribute() for the class, and the map drawn with captum.attr.visualization and saved as a PNG.
bench/process.py times it as a whole process against `gradcam explain` with the same method.

Methods: saliency, integrated-gradients (STEPS steps, internal batches of 16), smoothgrad
(SAMPLES noisy samples of Saliency, standard deviation 1 in normalized units, as
`gradcam explain --smooth-std 1`).

Usage: peer_attribute.py SHARED ARCH CHECKPOINT IMAGE CLASS METHOD N OUT.png
"""
import os
import sys

SHARED, ARCH, WEIGHTS, IMAGE, CLASS, METHOD, N, OUT = sys.argv[1:9]
sys.path.insert(0, os.path.join(SHARED, "peers", "captum"))

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from captum.attr import IntegratedGradients, NoiseTunnel, Saliency  # noqa: E402
from captum.attr import visualization as viz  # noqa: E402
from PIL import Image  # noqa: E402

model = getattr(torchvision.models, ARCH)()
model.load_state_dict(torch.load(WEIGHTS))
model.eval()
transform = torchvision.transforms.Compose([
    torchvision.transforms.Resize((224, 224)), torchvision.transforms.ToTensor(),
    torchvision.transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
x = transform(Image.open(IMAGE).convert("RGB"))[None]
target, n = int(CLASS), int(N)
if METHOD == "saliency":
    attr = Saliency(model).attribute(x, target=target)
elif METHOD == "integrated-gradients":
    attr = IntegratedGradients(model).attribute(x, target=target, n_steps=n, internal_batch_size=16)
elif METHOD == "smoothgrad":
    attr = NoiseTunnel(Saliency(model)).attribute(x, nt_type="smoothgrad", nt_samples=n, stdevs=1.0, target=target)
else:
    sys.exit(f"unknown method {METHOD}")
fig, _ = viz.visualize_image_attr(np.transpose(attr[0].detach().numpy(), (1, 2, 0)), method="heat_map",
                                  sign="absolute_value", use_pyplot=False)
fig.savefig(OUT)
