#!/usr/bin/python3
"""Quantus's perturbation metrics (faithfulness and axiomatic families) on the real MobileNetV2, for
TestPerturbationMetricsMatchQuantus (metrics/perturbation_test.go): Quantus itself, from
../shared/peers/quantus, on the image and maps reference_metrics.py wrote (REF/x.npy, map.npy,
map2.npy, classes.json: the top-1 class), one image per call.

The options are those the Go test sets (cheap ones: 24 steps of 1152 features, 20 runs, 4 samples,
10x10 regions with padding, 12x12 infidelity patches). Quantus's random draws are recorded as it
makes them (np.random.choice for faithfulness correlation's subsets, np.random.uniform for
monotonicity correlation's baselines) and written for the Go test to replay.

IROF runs with Quantus's perturbation, its mask broadcast over the channels (its own call passes a
one-channel mask, which fails on a 3-channel image). Monotonicity runs with a perturb_func that puts the image's values back into the black image, as
Arya et al. define it: Quantus's default replaces black with black, which makes every map monotonic.

Writes OUT/values.json {metric: value} and OUT/pixel-flipping.npy, region-perturbation.npy (the
curves), subsets.npy [runs, subset] (int64), uniforms.npy [steps * samples], and IROF's SLIC
superpixels: segments.npy [96, 96] of the image and segments_gray.npy [96, 72] of its first channel
cropped.

Usage: reference_perturbation.py SHARED_DIR REF OUT
"""
import json
import os
import sys
import warnings

import numpy as np
import scipy.stats
import torch
import torchvision

SHARED, REF, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
sys.dont_write_bytecode = True
for peer in ("quantus", "captum", "zennit"):
    sys.path.insert(0, os.path.join(SHARED, "peers", peer))
import quantus  # noqa: E402
from quantus.functions.perturb_func import baseline_replacement_by_mask  # noqa: E402

STEP, RUNS, SUBSET, SAMPLES, PATCH, REGIONS, INFIDELITY_PATCH = 1152, 20, 41, 4, 10, 30, 12


def main():
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(os.path.join(SHARED, "weights", "mobilenet_v2_coral_dequant.pth")))
    model.eval()
    x = np.load(os.path.join(REF, "x.npy")).astype(np.float32)
    maps = {name: np.load(os.path.join(REF, name + ".npy")).astype(np.float64)[None, None] for name in ("map", "map2")}
    with open(os.path.join(REF, "classes.json")) as f:
        y = np.array([json.load(f)["top1"]], dtype=np.int64)

    recorded = {"choice": [], "uniform": []}
    choice, uniform = np.random.choice, np.random.uniform

    def recording_choice(*args, **kwargs):
        v = choice(*args, **kwargs)
        recorded["choice"].append(np.array(v))
        return v

    def recording_uniform(*args, **kwargs):
        v = uniform(*args, **kwargs)
        recorded["uniform"].append(np.array(v).reshape(-1))
        return v

    np.random.choice, np.random.uniform = recording_choice, recording_uniform
    np.random.seed(0)

    def insert_image(arr, indices, **kwargs):
        """Monotonicity's step: the image's own values back at the indices."""
        out = arr.copy()
        out[np.arange(arr.shape[0])[:, None], indices] = x.reshape(arr.shape[0], -1)[np.arange(arr.shape[0])[:, None], indices]
        return out

    def pearson_rowwise(a, b, **kwargs):
        """Quantus's correlation_pearson, its own per-row branch: the batched one needs scipy >= 1.14
        (pearsonr's axis), Debian has 1.10 (../shared/peers/README.md)."""
        return np.array([scipy.stats.pearsonr(aa, bb)[0] for aa, bb in zip(a, b)])

    def mask_all_channels(arr, mask, **kwargs):
        """IROF's perturbation, Quantus's own baseline_replacement_by_mask, with the superpixel mask
        broadcast over the channels: IROF passes a one-channel mask, which the function refuses
        for a 3-channel image."""
        return baseline_replacement_by_mask(arr, np.broadcast_to(mask, arr.shape), **kwargs)

    metrics = {
        "faithfulness-correlation": quantus.FaithfulnessCorrelation(nr_runs=RUNS, subset_size=SUBSET, similarity_func=pearson_rowwise,
                                                                    return_aggregate=False, disable_warnings=True),
        "faithfulness-estimate": quantus.FaithfulnessEstimate(features_in_step=STEP, similarity_func=pearson_rowwise,
                                                              disable_warnings=True),
        "monotonicity": quantus.Monotonicity(features_in_step=STEP, perturb_func=insert_image, disable_warnings=True),
        "monotonicity-correlation": quantus.MonotonicityCorrelation(features_in_step=STEP, nr_samples=SAMPLES, disable_warnings=True),
        "pixel-flipping": quantus.PixelFlipping(features_in_step=STEP, disable_warnings=True),
        "region-perturbation": quantus.RegionPerturbation(patch_size=PATCH, regions_evaluation=REGIONS, disable_warnings=True),
        "irof": quantus.IROF(perturb_func=mask_all_channels, return_aggregate=False, disable_warnings=True),
        "infidelity": quantus.Infidelity(perturb_patch_sizes=[INFIDELITY_PATCH], n_perturb_samples=1, disable_warnings=True),
        "completeness": quantus.Completeness(disable_warnings=True),
        "non-sensitivity": quantus.NonSensitivity(features_in_step=STEP, disable_warnings=True),
    }
    os.makedirs(OUT, exist_ok=True)
    values = {}
    for name, metric in metrics.items():
        for map_name in ("map", "map2") if name in ("non-sensitivity", "completeness") else ("map",):
            recorded["choice"].clear()
            recorded["uniform"].clear()
            score = metric(model=model, x_batch=x, y_batch=y, a_batch=maps[map_name].copy(), device="cpu")[0]
            key = name if map_name == "map" else name + "/map2"
            if name in ("pixel-flipping", "region-perturbation"):
                curve = np.array(score, dtype=np.float64)
                np.save(os.path.join(OUT, name + ".npy"), curve)
                score = float(np.trapz(curve, dx=1))
            values[key] = float(score)
            if name == "faithfulness-correlation":
                np.save(os.path.join(OUT, "subsets.npy"), np.stack(recorded["choice"]).astype(np.int64))
            if name == "monotonicity-correlation":
                np.save(os.path.join(OUT, "uniforms.npy"), np.concatenate(recorded["uniform"]).astype(np.float64))
    # IROF's superpixels, scikit-image's SLIC as Quantus calls it: on the image, and on its first
    # channel cropped to 96x72 (one channel: no Lab; a grid that is not square).
    from quantus.helpers.utils import get_superpixel_segments
    np.save(os.path.join(OUT, "segments.npy"),
            get_superpixel_segments(np.moveaxis(x[0], 0, -1).astype("double"), "slic").astype(np.int64))
    np.save(os.path.join(OUT, "segments_gray.npy"),
            get_superpixel_segments(np.moveaxis(x[0, :1, :, :72], 0, -1).astype("double"), "slic").astype(np.int64))
    with open(os.path.join(OUT, "values.json"), "w") as f:
        json.dump(values, f, indent=1)


if __name__ == "__main__":
    main()
