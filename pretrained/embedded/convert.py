#!/usr/bin/python3
"""Writes the embedded default model: the ImageNet MobileNetV2 of ../shared/weights
(mobilenet_v2_coral_dequant.pth: TF-slim MobileNetV2 1.0/224, quantization-aware trained by
google-coral/test_data, Apache-2.0, dequantized to a torchvision state_dict) in half precision as
.safetensors, about 7 MB.

Usage: convert.py SHARED_WEIGHTS_DIR OUT.safetensors
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))  # the repository root
from models.testdata.reference import save_safetensors  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    state = torch.load(src + "/mobilenet_v2_coral_dequant.pth")
    save_safetensors(state, out, half=True, metadata={"format": "pt", "network": "mobilenet_v2",
                                                      "source": "mobilenet_v2_coral_dequant.pth, float16"})


if __name__ == "__main__":
    main()
