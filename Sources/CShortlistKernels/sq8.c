// 8-bit scalar-quantized rows (one u8 code per component, `stride` bytes per row, a multiple of
// 32, zero-padded) against a 16-bit integer query: the graph walk of `HNSW<m>,SQ8`. Codes are
// widened to 16 bits in registers and multiplied pairwise into 32-bit sums (vpmaddwd), so a
// row of 384 components costs 12 AVX-512 multiply-adds and reads 6 cache lines, a quarter of a
// float32 row. Dispatch follows the float kernels' level (sk_isa_active), so tests can compare
// every level with the scalar reference.
#include "shortlist_kernels.h"
#include "simd_common.h"

#include <immintrin.h>

#define AVX512 SK_AVX512
#define AVX2 SK_AVX2

static int32_t sq8_dot_scalar(const int16_t *q, const uint8_t *x, size_t stride) {
    int32_t s0 = 0, s1 = 0;
    for (size_t i = 0; i < stride; i += 2) {
        s0 += (int32_t)q[i] * x[i];
        s1 += (int32_t)q[i + 1] * x[i + 1];
    }
    return s0 + s1;
}

AVX2 static int32_t sq8_dot_avx2(const int16_t *q, const uint8_t *x, size_t stride) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (size_t i = 0; i < stride; i += 32) {
        __m256i x0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + i)));
        __m256i x1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + i + 16)));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, _mm256_loadu_si256((const __m256i *)(q + i))));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, _mm256_loadu_si256((const __m256i *)(q + i + 16))));
    }
    __m256i acc = _mm256_add_epi32(acc0, acc1);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

AVX512 static int32_t sq8_dot_avx512(const int16_t *q, const uint8_t *x, size_t stride) {
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= stride; i += 64) {
        __m512i x0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(x + i)));
        __m512i x1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(x + i + 32)));
        acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(x0, _mm512_loadu_si512(q + i)));
        acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(x1, _mm512_loadu_si512(q + i + 32)));
    }
    if (i < stride) {
        __m512i x0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(x + i)));
        acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(x0, _mm512_loadu_si512(q + i)));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
}

typedef int32_t (*sq8_fn)(const int16_t *, const uint8_t *, size_t);

static sq8_fn pick(void) {
    switch (sk_isa_active()) {
    case SK_ISA_AVX512: return sq8_dot_avx512;
    case SK_ISA_AVX2: return sq8_dot_avx2;
    default: return sq8_dot_scalar;
    }
}

int32_t sk_sq8_dot(const int16_t *q, const uint8_t *x, size_t stride) { return pick()(q, x, stride); }

static inline void prefetch_code_row(const uint8_t *row, size_t stride) {
    for (size_t o = 0; o < stride; o += 64) __builtin_prefetch(row + o, 0, 3);
}

void sk_sq8_ids(const int16_t *q, const uint8_t *codes, size_t stride, const uint32_t *ids, size_t count,
                float base, float factor, const float *norms, float *out) {
    sq8_fn f = pick();
    const size_t ahead = 4;
    for (size_t i = 0; i < ahead && i < count; i++) prefetch_code_row(codes + (size_t)ids[i] * stride, stride);
    for (size_t i = 0; i < count; i++) {
        if (i + ahead < count) prefetch_code_row(codes + (size_t)ids[i + ahead] * stride, stride);
        size_t row = ids[i];
        float v = base + factor * (float)f(q, codes + row * stride, stride);
        out[i] = norms ? v + norms[row] : v;
    }
}
