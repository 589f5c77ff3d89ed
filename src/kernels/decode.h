// Internal to src/kernels: the decoded form of the GGUF types that have no dedicated kernel yet
// (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q5_K, IQ4_NL, IQ4_XS, MXFP4).
//
// Every one of them is, per group of 16 values, y = scale * v + offset with v a small signed
// integer (|v| <= 127) and scale, offset floats computed exactly as ggml's dequantize_row_*
// computes them. DequantizeRow evaluates that expression (bit-exact with ggml); the matmul
// kernels take the integer v straight into int8 dot products with the quantized activations.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace mint::kernels {

inline constexpr int64_t kDecodeGroup = 16;

// Whether `t` goes through the decoded form.
bool IsDecodedType(DType t);
// Whether its groups have an offset (Q4_1, Q5_1, Q2_K, Q5_K: y = scale * v + offset); the
// others are y = scale * v and leave `offset` untouched.
bool DecodedHasOffset(DType t);

// Decodes n values (a multiple of DTypeBlockElements(t)) of a row: v[n], scale[n / 16] and, for
// types with offsets, offset[n / 16]. Precondition: IsDecodedType(t).
void DecodeRow(DType t, const void* src, int64_t n, int8_t* v, float* scale, float* offset);

// DequantizeRow of a decoded type: y = scale * v (+ offset), bit-exact with ggml.
void DequantizeDecodedRow(DType t, const void* src, float* y, int64_t n);

}  // namespace mint::kernels
