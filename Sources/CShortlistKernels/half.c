// Half-precision (binary16) storage kernels: rows are stored as u16 and widened to float in
// registers (AVX-512 / F16C vcvtph2ps), halving the bytes each distance reads.
#include "shortlist_kernels.h"
#include "simd_common.h"

#include <immintrin.h>
#include <string.h>

#define AVX512 SK_AVX512
#define AVX2 SK_AVX2

// ---------------------------------------------------------------------------------------------
// Portable conversions (exact widening; narrowing rounds to nearest even).

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do { e++; man <<= 1; } while ((man & 0x400) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, man = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;  // may carry into the exponent: correct
    return (uint16_t)(sign | half);
}

static float l2sq_f16_scalar(const float *q, const uint16_t *x, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) { float t = q[i] - half_to_float(x[i]); s += t * t; }
    return s;
}

static float ip_f16_scalar(const float *q, const uint16_t *x, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) s += q[i] * half_to_float(x[i]);
    return s;
}

// ---------------------------------------------------------------------------------------------


AVX2 static float l2sq_f16_avx2(const float *q, const uint16_t *x, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8))));
        acc0 = _mm256_fmadd_ps(t0, t0, acc0);
        acc1 = _mm256_fmadd_ps(t1, t1, acc1);
    }
    float s = sk_hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; i++) { float t = q[i] - half_to_float(x[i]); s += t * t; }
    return s;
}

AVX2 static float ip_f16_avx2(const float *q, const uint16_t *x, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8))), acc1);
    }
    float s = sk_hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; i++) s += q[i] * half_to_float(x[i]);
    return s;
}

AVX512 static float l2sq_f16_avx512(const float *q, const uint16_t *x, size_t d) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16))));
        acc0 = _mm512_fmadd_ps(t0, t0, acc0);
        acc1 = _mm512_fmadd_ps(t1, t1, acc1);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_sub_ps(_mm512_loadu_ps(q + i), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
        acc0 = _mm512_fmadd_ps(t, t, acc0);
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, q + i), _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
        acc1 = _mm512_fmadd_ps(t, t, acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

AVX512 static float ip_f16_avx512(const float *q, const uint16_t *x, size_t d) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16))), acc1);
    }
    for (; i + 16 <= d; i += 16) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))), acc0);
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

// ---------------------------------------------------------------------------------------------
// Dispatch follows the float kernels' level (sk_isa_active), so forcing a level in tests
// exercises these too.

typedef float (*half_fn)(const float *, const uint16_t *, size_t);

static half_fn pick(half_fn scalar, half_fn avx2, half_fn avx512) {
    switch (sk_isa_active()) {
    case SK_ISA_AVX512: return avx512;
    case SK_ISA_AVX2: return avx2;
    default: return scalar;
    }
}

float sk_l2sq_f16(const float *q, const uint16_t *x, size_t d) { return pick(l2sq_f16_scalar, l2sq_f16_avx2, l2sq_f16_avx512)(q, x, d); }
float sk_ip_f16(const float *q, const uint16_t *x, size_t d) { return pick(ip_f16_scalar, ip_f16_avx2, ip_f16_avx512)(q, x, d); }

static inline void prefetch_half_row(const uint16_t *row, size_t d) {
    const char *p = (const char *)row;
    for (size_t o = 0; o < d * 2; o += 64) __builtin_prefetch(p + o, 0, 3);
}

static inline void half_ids(half_fn f, const float *q, const uint16_t *base, size_t d, const uint32_t *ids, size_t count, float *out) {
    const size_t ahead = 4;
    for (size_t i = 0; i < ahead && i < count; i++) prefetch_half_row(base + (size_t)ids[i] * d, d);
    for (size_t i = 0; i < count; i++) {
        if (i + ahead < count) prefetch_half_row(base + (size_t)ids[i + ahead] * d, d);
        out[i] = f(q, base + (size_t)ids[i] * d, d);
    }
}

void sk_l2sq_f16_ids(const float *q, const uint16_t *base, size_t d, const uint32_t *ids, size_t count, float *out) {
    half_ids(pick(l2sq_f16_scalar, l2sq_f16_avx2, l2sq_f16_avx512), q, base, d, ids, count, out);
}

void sk_ip_f16_ids(const float *q, const uint16_t *base, size_t d, const uint32_t *ids, size_t count, float *out) {
    half_ids(pick(ip_f16_scalar, ip_f16_avx2, ip_f16_avx512), q, base, d, ids, count, out);
}

AVX2 static void f16_to_f32_avx2(const uint16_t *in, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
    for (; i < n; i++) out[i] = half_to_float(in[i]);
}

AVX2 static void f32_to_f16_avx2(const float *in, uint16_t *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < n; i++) out[i] = float_to_half(in[i]);
}

void sk_f32_to_f16(const float *in, uint16_t *out, size_t n) {
    if (sk_isa_active() != SK_ISA_SCALAR) { f32_to_f16_avx2(in, out, n); return; }
    for (size_t i = 0; i < n; i++) out[i] = float_to_half(in[i]);
}

void sk_f16_to_f32(const uint16_t *in, float *out, size_t n) {
    if (sk_isa_active() != SK_ISA_SCALAR) { f16_to_f32_avx2(in, out, n); return; }
    for (size_t i = 0; i < n; i++) out[i] = half_to_float(in[i]);
}
