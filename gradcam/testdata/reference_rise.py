#!/usr/bin/python3
"""RISE (Petsiuk et al. 2018) as its authors' code computes it, the reference for TestRISEMatches.

RISE's explanations.py (github.com/eclique/RISE), transcribed below with the input size and the
batch as parameters: generate_masks draws N grids of s x s cells kept with probability p1,
upsamples each (scikit-image, order 1, reflect) to (s+1) cells of ceil(224/s) pixels and crops it
at a random shift; forward multiplies the normalized image by each mask, runs the model with a
softmax (as the authors' notebook wraps it) and sums the masks weighted by the probabilities,
divided by N p1.

For resnet18 and vgg16 (the random weights of models/testdata/reference.py) and squeezenet1_0 and
mobilenet_v2 (the real weights in ../shared/weights), on cat_dog.png, it writes OUT/masks.npy
(the masks, [N, 224, 224], drawn once with numpy seed 0) and OUT/<model>/<class>.npy, the
saliency of classes 243 and 282.

Usage: reference_rise.py SHARED_DIR MODELS_REF_DIR N OUT
"""
# depends on: gradcam/testdata/reference.py
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision
from skimage.transform import resize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import CLASSES, cat_dog  # noqa: E402

MODELS = {
    "resnet18": "random",
    "vgg16": "random",
    "squeezenet1_0": "squeezenet1_0_deepcompression.pth",
    "mobilenet_v2": "mobilenet_v2_coral_dequant.pth",
}


class RISE(nn.Module):
    """eclique/RISE explanations.py's RISE, with the batch (gpu_batch) as given and on the CPU."""

    def __init__(self, model, input_size, gpu_batch=100):
        super(RISE, self).__init__()
        self.model = model
        self.input_size = input_size
        self.gpu_batch = gpu_batch

    def generate_masks(self, N, s, p1):
        cell_size = np.ceil(np.array(self.input_size) / s)
        up_size = (s + 1) * cell_size

        grid = np.random.rand(N, s, s) < p1
        grid = grid.astype('float32')

        self.masks = np.empty((N, *self.input_size))

        for i in range(N):
            # Random shifts
            x = np.random.randint(0, cell_size[0])
            y = np.random.randint(0, cell_size[1])
            # Linear upsampling and cropping
            self.masks[i, :, :] = resize(grid[i], up_size, order=1, mode='reflect',
                                         anti_aliasing=False)[x:x + self.input_size[0], y:y + self.input_size[1]]
        self.masks = self.masks.reshape(-1, 1, *self.input_size)
        self.masks = torch.from_numpy(self.masks).float()
        self.N = N
        self.p1 = p1

    def forward(self, x):
        N = self.N
        _, _, H, W = x.size()
        # Apply array of filters to the image
        stack = torch.mul(self.masks, x.data)

        # p = nn.Softmax(dim=1)(model(stack)) processed in batches
        p = []
        for i in range(0, N, self.gpu_batch):
            p.append(self.model(stack[i:min(i + self.gpu_batch, N)]))
        p = torch.cat(p)
        # Number of classes
        CL = p.size(1)
        sal = torch.matmul(p.data.transpose(0, 1), self.masks.view(N, H * W))
        sal = sal.view((CL, H, W))
        sal = sal / N / self.p1
        return sal


def main():
    torch.set_num_threads(os.cpu_count() or 1)
    shared, models_ref, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    x = cat_dog(shared)
    os.makedirs(out, exist_ok=True)
    np.random.seed(0)
    masks = None
    for arch, weights in MODELS.items():
        model = getattr(torchvision.models, arch)()
        path = os.path.join(models_ref, arch + ".pth") if weights == "random" else os.path.join(shared, "weights", weights)
        model.load_state_dict(torch.load(path))
        model.eval()
        explainer = RISE(nn.Sequential(model, nn.Softmax(dim=1)), (224, 224), gpu_batch=50)
        if masks is None:
            explainer.generate_masks(N=n, s=8, p1=0.5)
            masks = (explainer.masks, explainer.N, explainer.p1)
            np.save(os.path.join(out, "masks.npy"), masks[0][:, 0].numpy())
        explainer.masks, explainer.N, explainer.p1 = masks
        with torch.no_grad():
            sal = explainer(x)
        os.makedirs(os.path.join(out, arch), exist_ok=True)
        for c in CLASSES:
            np.save(os.path.join(out, arch, f"{c}.npy"), sal[c].numpy())


if __name__ == "__main__":
    main()
