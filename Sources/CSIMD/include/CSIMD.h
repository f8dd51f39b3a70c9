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

#endif
