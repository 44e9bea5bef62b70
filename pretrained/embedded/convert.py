#!/usr/bin/python3
"""Writes the embedded default model: the ImageNet MobileNetV2 of ../shared/weights
(mobilenet_v2_coral_dequant.pth: TF-slim MobileNetV2 1.0/224, quantization-aware trained by
google-coral/test_data, Apache-2.0, dequantized to a torchvision state_dict) in half precision as
.safetensors, about 7 MB.

Usage: convert.py SHARED_WEIGHTS_DIR OUT.safetensors
"""
import json
import struct
import sys

import torch


def main():
    src, out = sys.argv[1], sys.argv[2]
    state = torch.load(src + "/mobilenet_v2_coral_dequant.pth")
    header, blobs, offset = {"__metadata__": {"format": "pt", "network": "mobilenet_v2",
                                              "source": "mobilenet_v2_coral_dequant.pth, float16"}}, [], 0
    for k, v in state.items():
        if not v.dtype.is_floating_point:
            continue
        b = v.to(torch.float16).contiguous().numpy().tobytes()
        header[k] = {"dtype": "F16", "shape": list(v.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    main()
