// Helpers shared by the kernel files (internal; not part of the public header).
#ifndef SHORTLIST_SIMD_COMMON_H
#define SHORTLIST_SIMD_COMMON_H

// Supported platform: x86-64 Linux (the kernels are x86 SIMD; memory mapping, /proc and the
// BLAS setup are Linux's). Anywhere else, stop here with the reason rather than deep in a build.
#if !defined(__x86_64__) || !defined(__linux__)
#error "Shortlist supports x86-64 Linux only (AVX2 / AVX-512 kernels, /proc, mmap); see README.md, 'Platforms'"
#endif

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define SK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define SK_AVX2 __attribute__((target("avx2,fma,f16c")))

// Scalar kernels (scalar.c), installed when no vector level is available.
float sk_l2sq_scalar(const float *a, const float *b, size_t d);
float sk_ip_scalar(const float *a, const float *b, size_t d);
/// Appends the elements of [j, n) whose bias + alpha·ip is below `threshold`, indices shifted by j.
size_t sk_select_affine_tail(const float *ip, const float *bias, float alpha, size_t j, size_t n,
                             float threshold, uint32_t *out_index, float *out_dist);
size_t sk_select_affine_scalar(const float *ip, const float *bias, float alpha, size_t n, float threshold,
                               uint32_t *out_index, float *out_dist);
size_t sk_select_below_scalar(const float *values, size_t n, float threshold, uint32_t *out_index);

/// Horizontal sum of eight floats.
SK_AVX2 static inline float sk_hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

#endif
