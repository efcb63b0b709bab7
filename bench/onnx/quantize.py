"""int8 dynamic quantization of the fp32 encoder export, with Python's onnxruntime (the GPU machine
has it; Debian has none):

    python3 bench/onnx/quantize.py bench/onnx/encoder-fp32.onnx OUT/encoder-int8.onnx

Weights QInt8 (per tensor), activations quantized on the fly: onnxruntime's standard recipe for
transformer CPU inference. Only MatMul nodes, which are the linear layers Earshot stores as Q4_0
(its depthwise convolution stays float too). The sidecar OUT.json carries the fp32 export's
provenance on.
"""
import json
import sys

import onnxruntime
from onnxruntime.quantization import QuantType, quantize_dynamic


def main():
    src, dst = sys.argv[1], sys.argv[2]
    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    with open(src + ".json") as f:
        info = json.load(f)
    info["quantized"] = {
        "from": src,
        "weight_type": "QInt8",
        "method": "quantize_dynamic",
        "op_types": ["MatMul"],
        "onnxruntime": onnxruntime.__version__,
    }
    with open(dst + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps({"out": dst, **info["quantized"]}))


if __name__ == "__main__":
    main()
