// The patch matrix of a 2-D convolution (im2col) and its adjoint (col2im), for NCHW batches. In C because
// the rows are short (2 to 26 entries on the U-Net) and strided: clang vectorises col2im's paired stride-2
// accumulations as interleaved vector accesses (the object code shows their shuffles); im2col's stride-2 split
// into even and odd columns is written with AVX2 shuffles (clang left it scalar). The loops run without the
// per-row closure of the Swift version.
#include "CSIMD.h"
#include <stdlib.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

// even[u] = src[2u] and odd[u] = src[2u + 1] for the n entries of src (even gets the last when n is odd).
static inline void deinterleave(const float *restrict src, long n, float *restrict even, float *restrict odd) {
    long u = 0;
#if defined(__AVX2__)
    for (; 2 * u + 16 <= n; u += 8) {
        const __m256 a = _mm256_loadu_ps(src + 2 * u), b = _mm256_loadu_ps(src + 2 * u + 8);
        // Within each 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6 (and the odd ones); then the 64-bit pairs reordered.
        const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(even + u, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
        _mm256_storeu_ps(odd + u, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
    }
#endif
    for (; 2 * u + 1 < n; u++) {
        even[u] = src[2 * u];
        odd[u] = src[2 * u + 1];
    }
    if (n & 1) even[n / 2] = src[n - 1];
}

// d[q] = s[q] for q < n (short rows: a call to memcpy would cost more than the copy, and clang makes the
// loops one when it may).
__attribute__((no_builtin("memcpy"))) static inline void copy_row(float *restrict d, const float *restrict s, long n) {
    long q = 0;
#if defined(__AVX2__)
    for (; q + 8 <= n; q += 8) _mm256_storeu_ps(d + q, _mm256_loadu_ps(s + q));
    for (; q + 4 <= n; q += 4) _mm_storeu_ps(d + q, _mm_loadu_ps(s + q));
#endif
    for (; q < n; q++) d[q] = s[q];
}

// Planes with rows this short and no padding are visited as whole planes through a table of input offsets
// (the rows are too short for the loop over a row to pay for itself).
#define SHORT_ROW 8

static inline int short_rows(const score_conv_geometry *g) { return g->padding == 0 && g->out_w < SHORT_ROW; }

// offsets[q] for output entry q = oy·outW + ox of one plane: the offset oy·s·inW + ox·s of its tap (0, 0) in the
// input plane (tap (i, j) adds i·inW + j). Without padding every tap of every entry lies inside the input.
static long *plane_offsets(const score_conv_geometry *g) {
    const long out_plane = g->out_h * g->out_w;
    long *offsets = malloc((size_t)out_plane * sizeof(long));
    if (!offsets) abort();
    for (long oy = 0; oy < g->out_h; oy++)
        for (long ox = 0; ox < g->out_w; ox++) offsets[oy * g->out_w + ox] = oy * g->stride * g->in_w + ox * g->stride;
    return offsets;
}

// The output columns [*lo, *hi) whose input column ox·s − p + j lies in [0, w).
static inline void columns(const score_conv_geometry *g, long j, long *lo, long *hi) {
    long l = g->padding - j > 0 ? (g->padding - j + g->stride - 1) / g->stride : 0;
    long h_raw = g->in_w - 1 + g->padding - j;
    long h = h_raw < 0 ? 0 : (h_raw / g->stride + 1 < g->out_w ? h_raw / g->stride + 1 : g->out_w);
    *lo = l < h ? l : h;
    *hi = h;
}

__attribute__((no_builtin("memcpy"))) void score_im2col(const score_conv_geometry *g, long n, const float *restrict x, float *restrict cols) {
    const long k = g->kernel, s = g->stride, p = g->padding, ow = g->out_w, oh = g->out_h;
    const long in_plane = g->in_h * g->in_w, out_plane = oh * ow, nl = n * out_plane;
    if (short_rows(g)) {
        long *offsets = plane_offsets(g);
        for (long c = 0; c < g->in_channels; c++)
            for (long i = 0; i < k; i++)
                for (long j = 0; j < k; j++) {
                    float *row = cols + ((c * k + i) * k + j) * nl;
                    for (long b = 0; b < n; b++) {
                        const float *src = x + (b * g->in_channels + c) * in_plane + i * g->in_w + j;
                        float *d = row + b * out_plane;
                        for (long q = 0; q < out_plane; q++) d[q] = src[offsets[q]];
                    }
                }
        free(offsets);
        return;
    }
    if (s == 2 && p == 0) {
        // Stride 2 without padding: tap (i, j) of output row oy reads input row 2·oy + i at columns j, j + 2, …,
        // so each input plane is split once into its even and its odd columns and every tap's row is a copy of
        // ow consecutive entries: from the evens at column j/2 (j even), else from the odds. Every tap lies inside
        // the row: (ow − 1)·2 + k ≤ inW.
        const long half = g->in_w / 2, halves = (g->in_w + 1) / 2;
        float *even = malloc((size_t)(g->in_h * g->in_w) * sizeof(float));
        if (!even) abort();
        float *odd = even + g->in_h * halves;
        for (long c = 0; c < g->in_channels; c++)
            for (long b = 0; b < n; b++) {
                const float *plane = x + (b * g->in_channels + c) * in_plane;
                if (g->in_w % 2 == 0) {
                    deinterleave(plane, in_plane, even, odd);  // row by row is the same split when rows are even
                } else {
                    for (long r = 0; r < g->in_h; r++) deinterleave(plane + r * g->in_w, g->in_w, even + r * halves, odd + r * half);
                }
                for (long i = 0; i < k; i++)
                    for (long j = 0; j < k; j++) {
                        const float *from = (j & 1) ? odd + i * half + j / 2 : even + i * halves + j / 2;
                        const long step = 2 * ((j & 1) ? half : halves);
                        float *d = cols + ((c * k + i) * k + j) * nl + b * out_plane;
                        for (long oy = 0; oy < oh; oy++) copy_row(d + oy * ow, from + oy * step, ow);
                    }
            }
        free(even);
        return;
    }
    for (long c = 0; c < g->in_channels; c++) {
        for (long i = 0; i < k; i++) {
            for (long j = 0; j < k; j++) {
                long lo, hi;
                columns(g, j, &lo, &hi);
                float *row = cols + ((c * k + i) * k + j) * nl;
                for (long b = 0; b < n; b++) {
                    const float *plane = x + (b * g->in_channels + c) * in_plane;
                    for (long oy = 0; oy < oh; oy++) {
                        float *d = row + b * out_plane + oy * ow;
                        long iy = oy * s - p + i;
                        if (iy < 0 || iy >= g->in_h) { memset(d, 0, (size_t)ow * sizeof(float)); continue; }
                        for (long ox = 0; ox < lo; ox++) d[ox] = 0;
                        for (long ox = hi; ox < ow; ox++) d[ox] = 0;
                        const float *src = plane + iy * g->in_w;  // src[ox·s − p + j] for ox in [lo, hi)
                        const long o = j - p;
                        if (s == 1) {
                            for (long ox = lo; ox < hi; ox++) d[ox] = src[ox + o];
                        } else if (s == 2) {
                            for (long ox = lo; ox < hi; ox++) d[ox] = src[2 * ox + o];
                        } else {
                            for (long ox = lo; ox < hi; ox++) d[ox] = src[ox * s + o];
                        }
                    }
                }
            }
        }
    }
}

void score_col2im(const score_conv_geometry *g, long n, const float *restrict cols, float *restrict x) {
    const long k = g->kernel, s = g->stride, p = g->padding, ow = g->out_w, oh = g->out_h;
    const long in_plane = g->in_h * g->in_w, out_plane = oh * ow, nl = n * out_plane;
    if (short_rows(g)) {
        // One tap's entries go to distinct input positions, so each tap's loop has no repeated target.
        long *offsets = plane_offsets(g);
        for (long c = 0; c < g->in_channels; c++)
            for (long b = 0; b < n; b++) {
                float *plane = x + (b * g->in_channels + c) * in_plane;
                for (long i = 0; i < k; i++)
                    for (long j = 0; j < k; j++) {
                        const float *t = cols + ((c * k + i) * k + j) * nl + b * out_plane;
                        float *d = plane + i * g->in_w + j;
                        for (long q = 0; q < out_plane; q++) d[offsets[q]] += t[q];
                    }
            }
        free(offsets);
        return;
    }
    // Without padding and with stride 2 the taps of a row pair up: tap j adds to the even or odd entries
    // 2·ox + j, so taps 2t and 2t + 1 together add to consecutive entries.
    const int paired = s == 2 && p == 0;
    for (long c = 0; c < g->in_channels; c++) {
        for (long b = 0; b < n; b++) {
            float *plane = x + (b * g->in_channels + c) * in_plane;
            for (long i = 0; i < k; i++) {
                const float *taps = cols + (c * k + i) * k * nl + b * out_plane;
                for (long oy = 0; oy < oh; oy++) {
                    long iy = oy * s - p + i;
                    if (iy < 0 || iy >= g->in_h) continue;
                    float *d = plane + iy * g->in_w;  // d[ox·s − p + j] gets tap j's entry ox
                    const float *t = taps + oy * ow;
                    long j = 0;
                    if (paired && k == 3 && ow >= 1 && 2 * ow < g->in_w) {
                        // All three taps in one pass over the row: even entries 2u get tap 0's u and tap 2's
                        // u − 1, odd entries 2u + 1 tap 1's u (every column in range: no padding, 2·ow < w).
                        const float *t0 = t, *t1 = t + nl, *t2 = t + 2 * nl;
                        d[0] += t0[0];
                        d[1] += t1[0];
                        for (long u = 1; u < ow; u++) {
                            d[2 * u] += t0[u] + t2[u - 1];
                            d[2 * u + 1] += t1[u];
                        }
                        d[2 * ow] += t2[ow - 1];
                        continue;
                    }
                    if (paired) {
                        for (; j + 1 < k; j += 2) {
                            long lo, hi, lo1, hi1;
                            columns(g, j, &lo, &hi);
                            columns(g, j + 1, &lo1, &hi1);
                            if (lo1 != lo || hi1 != hi) break;
                            const float *t0 = t + j * nl, *t1 = t + (j + 1) * nl;
                            float *dj = d + j;
                            for (long ox = lo; ox < hi; ox++) {
                                dj[2 * ox] += t0[ox];
                                dj[2 * ox + 1] += t1[ox];
                            }
                        }
                    }
                    for (; j < k; j++) {
                        long lo, hi;
                        columns(g, j, &lo, &hi);
                        const float *tj = t + j * nl;
                        if (s == 1) {
                            for (long ox = lo; ox < hi; ox++) d[ox + j - p] += tj[ox];
                        } else {
                            for (long ox = lo; ox < hi; ox++) d[ox * s - p + j] += tj[ox];
                        }
                    }
                }
            }
        }
    }
}
