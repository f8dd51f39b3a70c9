#ifndef CSIMD_H
#define CSIMD_H

/// Vector operations that Swift's SIMD types do lane by lane on Linux. `SIMD8<Float>.squareRoot()` goes
/// through the C library's sqrtf, which keeps errno and so is neither vectorised nor inlined; clang's
/// elementwise builtin is `llvm.sqrt` on the whole vector (one vsqrtps on AVX), correctly rounded as
/// IEEE 754 requires. Swift imports `float __attribute__((ext_vector_type(8)))` as `SIMD8<Float>`.

typedef float score_float8 __attribute__((ext_vector_type(8)));
typedef float score_float16 __attribute__((ext_vector_type(16)));

static inline __attribute__((always_inline)) score_float8 score_sqrt8(score_float8 x) {
    return __builtin_elementwise_sqrt(x);
}

static inline __attribute__((always_inline)) score_float16 score_sqrt16(score_float16 x) {
    return __builtin_elementwise_sqrt(x);
}

/// The geometry of a 2-D convolution (the fields of the engine's `ConvGeometry` that the patch loops use).
typedef struct {
    long in_channels, in_h, in_w, out_h, out_w, kernel, stride, padding;
} score_conv_geometry;

/// cols[(c, i, j), (b, oy, ox)] = x[b, c, oy·s − p + i, ox·s − p + j] (0 outside), for a batch of n NCHW images:
/// the patch matrix [C·k·k, n·outH·outW].
void score_im2col(const score_conv_geometry *g, long n, const float *restrict x, float *restrict cols);

/// The adjoint of `score_im2col`: adds each patch entry into its input position (x holds what it adds to).
void score_col2im(const score_conv_geometry *g, long n, const float *restrict cols, float *restrict x);

#endif
