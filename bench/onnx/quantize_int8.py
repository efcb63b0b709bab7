"""int8 dynamic quantization of the fp32 encoder export without Python's onnxruntime (Debian has
none; python3-onnx from apt is enough): the graph onnxruntime's quantize_dynamic writes in its
IntegerOps mode with QInt8 weights, made here.

    /usr/bin/python3 bench/onnx/quantize_int8.py bench/onnx/encoder-fp32.onnx bench/onnx/encoder-int8.onnx

Every MatMul whose second input is a weight (the linear layers; Earshot stores these as Q4_0):
weight int8, symmetric, per tensor (scale = max|w| / 127, zero point 0); its input quantized on the
fly to uint8 by DynamicQuantizeLinear (shared when several MatMuls read one tensor); then
MatMulInteger -> Cast -> Mul by (input scale x weight scale), which onnxruntime fuses into its
DynamicQuantizeMatMul kernel at load. Products of two activations (attention scores) and the
depthwise convolution stay float, as in Earshot. bench/onnx/quantize.py is the same with
onnxruntime's own tool where it is installed.
"""
import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def quantize(src: str, dst: str) -> dict:
    model = onnx.load(src)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes, added, quantized_inputs, done = [], [], {}, 0
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits:
            nodes.append(node)
            continue
        x, w_name = node.input
        w = numpy_helper.to_array(inits[w_name]).astype(np.float32)
        scale = np.float32(max(float(np.abs(w).max()), 1e-12) / 127.0)
        wq = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        tag = f"{w_name}_{done}"
        added += [
            numpy_helper.from_array(wq, f"{tag}_q"),
            numpy_helper.from_array(np.array(scale, np.float32), f"{tag}_scale"),
            numpy_helper.from_array(np.array(0, np.int8), f"{tag}_zp"),
        ]
        if x not in quantized_inputs:
            quantized_inputs[x] = (f"{x}_u8", f"{x}_scale", f"{x}_zp")
            nodes.append(helper.make_node("DynamicQuantizeLinear", [x], list(quantized_inputs[x]), name=f"{x}_dql"))
        xq, xs, xzp = quantized_inputs[x]
        out = node.output[0]
        nodes += [
            helper.make_node("MatMulInteger", [xq, f"{tag}_q", xzp, f"{tag}_zp"], [f"{out}_i32"], name=f"{tag}_mmi"),
            helper.make_node("Cast", [f"{out}_i32"], [f"{out}_f32"], to=TensorProto.FLOAT, name=f"{tag}_cast"),
            helper.make_node("Mul", [xs, f"{tag}_scale"], [f"{out}_s"], name=f"{tag}_scales"),
            helper.make_node("Mul", [f"{out}_f32", f"{out}_s"], [out], name=f"{tag}_rescale"),
        ]
        done += 1
    used = {i for n in nodes for i in n.input}
    keep = [t for t in graph.initializer if t.name in used] + added
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    onnx.checker.check_model(model)
    onnx.save(model, dst)
    return {"matmuls_quantized": done}


def main():
    src, dst = sys.argv[1], sys.argv[2]
    stats = quantize(src, dst)
    with open(src + ".json") as f:
        info = json.load(f)
    info["quantized"] = {
        "from": src,
        "weight_type": "QInt8 symmetric per tensor",
        "activations": "uint8, dynamic",
        "method": "bench/onnx/quantize_int8.py (onnxruntime quantize_dynamic's IntegerOps graph)",
        "onnx": onnx.__version__,
        **stats,
    }
    with open(dst + ".json", "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps({"out": dst, **info["quantized"]}))


if __name__ == "__main__":
    main()
