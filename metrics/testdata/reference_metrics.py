#!/usr/bin/python3
"""Reference numbers for package metrics, on the real MobileNetV2 of ../shared/weights.

The image is cat_dog.png resized to 96x96 (PIL bilinear) and normalized as torchvision does; the
maps are made here: MAP, the ranks of two smooth blobs over the image scaled to [0, 1], so
that no two pixels tie (the orders of RISE and ROAD then do not depend on how ties are broken); MAP2, a second map with ties (zeros) for the rank statistics. Written to OUT:

  x.npy                   the input, 1x3x96x96 float32
  map.npy, map2.npy       96x96 float32
  classes.json            {"top1": c, "other": c2}
  deletion.npy, insertion.npy
                          RISE's CausalMetric.single_run curves for MAP (the authors' evaluation.py
                          as published: softmax of the top-1 class, step 96 pixels, deletion to
                          zeros, insertion from gkern(11, 5) blur with zero padding), and their
                          auc() in curves.json
  road_morf_<cls>.npy, road_lerf_<cls>.npy
                          pytorch-grad-cam's own PerturbationConfidenceMetric with
                          RemoveMostRelevantFirst / RemoveLeastRelevantFirst at 10..90, its
                          NoisyLinearImputer with noise 0 (deterministic), softmax target, for MAP
                          and both classes
  confidence.json         pytorch-grad-cam's DropInConfidence and IncreaseInConfidence, and the
                          scores before and after (CamMultImageConfidenceChange with
                          return_diff=False), for MAP and MAP2 and both classes
  similarity.json         scipy.stats.spearmanr(MAP, MAP2) and skimage's structural_similarity
                          (data_range 1, its defaults: 7x7 uniform window, sample covariance)

Usage: reference_metrics.py SHARED_DIR OUT
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from scipy.ndimage import gaussian_filter
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

SHARED, OUT = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SHARED, "peers", "pytorch-grad-cam"))
sys.path.insert(0, os.path.join(SHARED, "peers", "ttach"))  # pytorch_grad_cam imports it
from pytorch_grad_cam.metrics.cam_mult_image import DropInConfidence, IncreaseInConfidence, CamMultImageConfidenceChange  # noqa: E402
from pytorch_grad_cam.metrics.perturbation_confidence import (  # noqa: E402
    PerturbationConfidenceMetric, RemoveMostRelevantFirst, RemoveLeastRelevantFirst)
from pytorch_grad_cam.metrics.road import NoisyLinearImputer  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget  # noqa: E402

SIZE = 96
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PERCENTILES = [10, 20, 30, 40, 50, 60, 70, 80, 90]


# RISE (Petsiuk et al. 2018), evaluation.py, with HW and the model's device made parameters.
def gkern(klen, nsig):
    inp = np.zeros((klen, klen))
    inp[klen // 2, klen // 2] = 1
    k = gaussian_filter(inp, nsig)
    kern = np.zeros((3, 3, klen, klen))
    kern[0, 0] = k
    kern[1, 1] = k
    kern[2, 2] = k
    return torch.from_numpy(kern.astype('float32'))


def auc(arr):
    return (arr.sum() - arr[0] / 2 - arr[-1] / 2) / (arr.shape[0] - 1)


klen, ksig = 11, 5
kern = gkern(klen, ksig)


def blur(x):
    return torch.nn.functional.conv2d(x, kern, padding=klen // 2)


class CausalMetric:
    def __init__(self, model, mode, step, substrate_fn, hw):
        self.model, self.mode, self.step, self.substrate_fn, self.hw = model, mode, step, substrate_fn, hw

    def single_run(self, img_tensor, explanation):
        HW = self.hw
        pred = self.model(img_tensor)
        top, c = torch.max(pred, 1)
        c = c.numpy()[0]
        n_steps = (HW + self.step - 1) // self.step
        if self.mode == 'del':
            start = img_tensor.clone()
            finish = self.substrate_fn(img_tensor)
        else:
            start = self.substrate_fn(img_tensor)
            finish = img_tensor.clone()
        scores = np.empty(n_steps + 1)
        salient_order = np.flip(np.argsort(explanation.reshape(-1, HW), axis=1), axis=-1)
        for i in range(n_steps + 1):
            pred = self.model(start)
            scores[i] = pred[0, c]
            if i < n_steps:
                coords = salient_order[:, self.step * i:self.step * (i + 1)]
                start.numpy().reshape(1, 3, HW)[0, :, coords] = finish.numpy().reshape(1, 3, HW)[0, :, coords]
        return scores


def maps():
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    blob = np.exp(-((yy - 40) ** 2 + (xx - 30) ** 2) / (2 * 18.0 ** 2))
    blob += 0.6 * np.exp(-((yy - 70) ** 2 + (xx - 75) ** 2) / (2 * 10.0 ** 2))
    blob += 1e-9 * rng.random((SIZE, SIZE))  # breaks the blobs' symmetric ties at random
    # The blob's ranks scaled to [0, 1]: k / (HW - 1) are distinct in float32, and so are 1 - them.
    ranks = np.empty(SIZE * SIZE)
    ranks[np.argsort(blob.ravel(), kind="stable")] = np.arange(SIZE * SIZE)
    m = (ranks / (SIZE * SIZE - 1)).astype(np.float32).reshape(SIZE, SIZE)
    assert len(np.unique(m)) == m.size and len(np.unique(1 - m)) == m.size and m.min() == 0 and m.max() == 1
    m2 = np.maximum(np.sin(xx / 9.0) * np.cos(yy / 13.0), 0).astype(np.float32)
    m2 = m2 / m2.max()
    return m, m2


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(os.cpu_count() or 1)
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(os.path.join(SHARED, "weights", "mobilenet_v2_coral_dequant.pth")))
    model.eval()
    img = Image.open(os.path.join(SHARED, "images", "cat_dog.png")).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
    x = ((np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
    np.save(os.path.join(OUT, "x.npy"), x)
    m, m2 = maps()
    np.save(os.path.join(OUT, "map.npy"), m)
    np.save(os.path.join(OUT, "map2.npy"), m2)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        probs = torch.softmax(model(xt), 1)[0]
    top = torch.topk(probs, 2).indices.tolist()
    classes = {"top1": top[0], "other": top[1]}
    json.dump(classes, open(os.path.join(OUT, "classes.json"), "w"))

    softmax_model = torch.nn.Sequential(model, torch.nn.Softmax(dim=1))
    curves = {}
    with torch.no_grad():
        for mode, name, substrate in [("del", "deletion", torch.zeros_like), ("ins", "insertion", blur)]:
            s = CausalMetric(softmax_model, mode, SIZE, substrate, SIZE * SIZE).single_run(xt.clone(), m)
            np.save(os.path.join(OUT, name + ".npy"), s.astype(np.float32))
            curves[name] = float(auc(s))
    json.dump(curves, open(os.path.join(OUT, "curves.json"), "w"))

    cams = m[None]
    confidence = {}
    for key, c in classes.items():
        targets = [ClassifierOutputSoftmaxTarget(c)]
        for order, removal in [("morf", RemoveMostRelevantFirst), ("lerf", RemoveLeastRelevantFirst)]:
            r = [PerturbationConfidenceMetric(removal(p, NoisyLinearImputer(noise=0)))(xt, cams, targets, model)[0]
                 for p in PERCENTILES]
            np.save(os.path.join(OUT, f"road_{order}_{c}.npy"), np.float32(r))
        for mname, mp in [("map", m), ("map2", m2)]:
            cm = mp[None]
            before = float(PerturbationConfidenceMetric(lambda t, cam: t)(xt, cm, targets, model, return_diff=False)[0])
            after = float(CamMultImageConfidenceChange()(xt, cm, targets, model, return_diff=False)[0])
            confidence[f"{mname}_{c}"] = {
                "drop": float(DropInConfidence()(xt, cm, targets, model)[0]),
                "increase": float(IncreaseInConfidence()(xt, cm, targets, model)[0]),
                "before": before, "after": after}
    json.dump(confidence, open(os.path.join(OUT, "confidence.json"), "w"), indent=1)

    similarity = {"spearman": float(spearmanr(m.ravel(), m2.ravel()).correlation),
                  "ssim": float(structural_similarity(m, m2, data_range=1.0)),
                  "ssim_self": float(structural_similarity(m, m, data_range=1.0))}
    json.dump(similarity, open(os.path.join(OUT, "similarity.json"), "w"), indent=1)
    print(json.dumps({"classes": classes, "curves": curves, "similarity": similarity}))


if __name__ == "__main__":
    main()
