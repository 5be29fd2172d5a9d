// Scalar versions of the dispatched kernels: the reference for tests, and the fallback on CPUs
// without AVX2. Declared in simd_common.h for kernels.c's dispatch table.
#include "simd_common.h"

#include <stddef.h>
#include <stdint.h>

float sk_l2sq_scalar(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float t0 = a[i] - b[i], t1 = a[i + 1] - b[i + 1], t2 = a[i + 2] - b[i + 2], t3 = a[i + 3] - b[i + 3];
        s0 += t0 * t0; s1 += t1 * t1; s2 += t2 * t2; s3 += t3 * t3;
    }
    for (; i < d; i++) { float t = a[i] - b[i]; s0 += t * t; }
    return (s0 + s1) + (s2 + s3);
}

float sk_ip_scalar(const float *a, const float *b, size_t d) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
    }
    for (; i < d; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/// Appends the tail [j, n) through the scalar path, shifting its indices by j.
size_t sk_select_affine_tail(const float *ip, const float *bias, float alpha, size_t j, size_t n,
                                 float threshold, uint32_t *out_index, float *out_dist) {
    size_t w = 0;
    for (; j < n; j++) {
        float v = (bias ? bias[j] : 0.0f) + alpha * ip[j];
        if (v < threshold) { out_index[w] = (uint32_t)j; out_dist[w] = v; w++; }
    }
    return w;
}

size_t sk_select_affine_scalar(const float *ip, const float *bias, float alpha, size_t n, float threshold,
                                   uint32_t *out_index, float *out_dist) {
    return sk_select_affine_tail(ip, bias, alpha, 0, n, threshold, out_index, out_dist);
}

size_t sk_select_below_scalar(const float *values, size_t n, float threshold, uint32_t *out_index) {
    size_t w = 0;
    for (size_t j = 0; j < n; j++) {
        if (values[j] < threshold) out_index[w++] = (uint32_t)j;
    }
    return w;
}
