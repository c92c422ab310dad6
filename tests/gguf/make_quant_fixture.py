#!/usr/bin/env python3
"""Writes the GGUF dequantization fixture, made at test time by the pinned `gguf` package.

One GGUF file holds, for each tensor type the loader supports, a small tensor of that type
(`<type>.q`) and the `gguf` package's own `dequantize` of it as F32 (`<type>.ref`). The quantized
bytes are either the package's quantizer output (F16, BF16, Q8_0, Q4_0, Q4_1) or random blocks
whose f16 scale fields are set to finite values (the k-quants, which the package can only
dequantize): every bit pattern of the other fields is a valid block, so random bytes cover all
of them. The C++ test (gguf_test.cpp) dequantizes `<type>.q` and compares bit for bit.

usage: make_quant_fixture.py OUT.gguf
"""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

QUANTIZABLE = [T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1]
# Byte offsets of the f16 scale fields within a block of each k-quant.
K_QUANT_SCALE_FIELDS = {T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
ROWS, COLS = 6, 512


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(20261128)
    w = gguf.GGUFWriter(out, "llama")
    x = (rng.standard_normal((ROWS, COLS)) * 0.7).astype(np.float32)
    x[0, :8] = [0.0, -0.0, 1e-8, -3.5, 65504.0, 1e-5, 7.0, -7.0]  # edge values
    w.add_tensor("F32.q", x)
    w.add_tensor("F32.ref", x)
    for t in QUANTIZABLE:
        q = quantize(x, t)
        w.add_tensor(f"{t.name}.q", q, raw_dtype=t)
        w.add_tensor(f"{t.name}.ref", dequantize(q, t).astype(np.float32))
    for t, scale_fields in K_QUANT_SCALE_FIELDS.items():
        block_elems, block_bytes = gguf.GGML_QUANT_SIZES[t]
        n_blocks = ROWS * COLS // block_elems
        q = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
        for off in scale_fields:
            scales = (rng.standard_normal(n_blocks) * 0.01).astype(np.float16)
            q[:, off:off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
        q = q.reshape(ROWS, COLS // block_elems * block_bytes)
        w.add_tensor(f"{t.name}.q", q, raw_dtype=t)
        w.add_tensor(f"{t.name}.ref", dequantize(q, t).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
