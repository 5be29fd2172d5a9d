// 4-bit product-quantization "fast scan" (André, Kermarrec & Le Scouarnec, 2015; FAISS's
// PQ…x4fs): the per-query table of 16 entries per sub-quantizer is quantized to bytes and held in
// registers, and `pshufb` looks up 16 or 32 codes per instruction. Dispatch follows the float
// kernels' level (sk_isa_active), so tests can compare every level with the scalar reference.
#include "shortlist_kernels.h"
#include "simd_common.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

// ---------------------------------------------------------------------------------------------
// Tables

static void pq4_table_scalar(const float *q, const float *cbt, size_t m, size_t dsub, float scale, const float *base, float *out) {
    for (size_t j = 0; j < m; j++) {
        float acc[16];
        for (int c = 0; c < 16; c++) acc[c] = base ? base[j * 16 + c] : 0.0f;
        for (size_t t = 0; t < dsub; t++) {
            const float qv = q[j * dsub + t] * scale;
            const float *row = cbt + (j * dsub + t) * 16;
            for (int c = 0; c < 16; c++) acc[c] += qv * row[c];
        }
        memcpy(out + j * 16, acc, sizeof acc);
    }
}

SK_AVX512 static void pq4_table_avx512(const float *q, const float *cbt, size_t m, size_t dsub, float scale, const float *base, float *out) {
    for (size_t j = 0; j < m; j++) {
        __m512 a0 = base ? _mm512_loadu_ps(base + j * 16) : _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        const float *qj = q + j * dsub, *row = cbt + j * dsub * 16;
        size_t t = 0;
        for (; t + 2 <= dsub; t += 2) {
            a0 = _mm512_fmadd_ps(_mm512_set1_ps(qj[t] * scale), _mm512_loadu_ps(row + t * 16), a0);
            a1 = _mm512_fmadd_ps(_mm512_set1_ps(qj[t + 1] * scale), _mm512_loadu_ps(row + t * 16 + 16), a1);
        }
        if (t < dsub) a0 = _mm512_fmadd_ps(_mm512_set1_ps(qj[t] * scale), _mm512_loadu_ps(row + t * 16), a0);
        _mm512_storeu_ps(out + j * 16, _mm512_add_ps(a0, a1));
    }
}

void sk_pq4_table(const float *q, const float *codebooks_t, size_t m, size_t dsub, float scale, const float *base, float *table) {
    if (sk_isa_active() == SK_ISA_AVX512) pq4_table_avx512(q, codebooks_t, m, dsub, scale, base, table);
    else pq4_table_scalar(q, codebooks_t, m, dsub, scale, base, table);
}

static void pq4_quantize_scalar(const float *table, const float *addend, size_t m, uint8_t *lut, float *out_step, float *out_offset) {
    float span = 0, offset = 0;
    for (size_t j = 0; j < m; j++) {
        float lo = INFINITY, hi = -INFINITY;
        for (int c = 0; c < 16; c++) {
            float v = table[j * 16 + c] + (addend ? addend[j * 16 + c] : 0.0f);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        offset += lo;
        span = hi - lo > span ? hi - lo : span;
    }
    // One step for every sub-quantizer, so that sums of bytes stay comparable; the widest table
    // uses the whole 0…255 range.
    const float step = span > 0 ? span / 255.0f : 1.0f, inverse = 1.0f / step;
    for (size_t j = 0; j < m; j++) {
        float lo = INFINITY;
        for (int c = 0; c < 16; c++) {
            float v = table[j * 16 + c] + (addend ? addend[j * 16 + c] : 0.0f);
            lo = v < lo ? v : lo;
        }
        for (int c = 0; c < 16; c++) {
            float v = (table[j * 16 + c] + (addend ? addend[j * 16 + c] : 0.0f) - lo) * inverse + 0.5f;
            lut[j * 16 + c] = (uint8_t)(v >= 255.0f ? 255 : v <= 0.0f ? 0 : (int)v);
        }
    }
    *out_step = step;
    *out_offset = offset;
}

/// One sub-quantizer's 16 entries are one register: its minimum and maximum are reductions, and
/// the bytes come from a saturating narrowing conversion.
SK_AVX512 static void pq4_quantize_avx512(const float *table, const float *addend, size_t m, uint8_t *lut, float *out_step,
                                          float *out_offset) {
    __m512 span = _mm512_setzero_ps();
    float offset = 0;
    for (size_t j = 0; j < m; j++) {
        __m512 v = _mm512_loadu_ps(table + j * 16);
        if (addend) v = _mm512_add_ps(v, _mm512_loadu_ps(addend + j * 16));
        float lo = _mm512_reduce_min_ps(v);
        offset += lo;
        span = _mm512_max_ps(span, _mm512_sub_ps(v, _mm512_set1_ps(lo)));
    }
    const float widest = _mm512_reduce_max_ps(span);
    const float step = widest > 0 ? widest / 255.0f : 1.0f;
    const __m512 inverse = _mm512_set1_ps(1.0f / step);
    for (size_t j = 0; j < m; j++) {
        __m512 v = _mm512_loadu_ps(table + j * 16);
        if (addend) v = _mm512_add_ps(v, _mm512_loadu_ps(addend + j * 16));
        __m512 scaled = _mm512_mul_ps(_mm512_sub_ps(v, _mm512_set1_ps(_mm512_reduce_min_ps(v))), inverse);
        __m512i rounded = _mm512_max_epi32(_mm512_cvtps_epi32(scaled), _mm512_setzero_si512());
        _mm_storeu_si128((__m128i *)(lut + j * 16), _mm512_cvtusepi32_epi8(rounded));
    }
    *out_step = step;
    *out_offset = offset;
}

void sk_pq4_quantize_lut(const float *table, const float *addend, size_t m, size_t mpad, uint8_t *lut,
                         float *out_step, float *out_offset) {
    if (sk_isa_active() == SK_ISA_AVX512) pq4_quantize_avx512(table, addend, m, lut, out_step, out_offset);
    else pq4_quantize_scalar(table, addend, m, lut, out_step, out_offset);
    if (mpad > m) memset(lut + m * 16, 0, (mpad - m) * 16);
}

// ---------------------------------------------------------------------------------------------
// Scans. Block layout (SK_PQ4_BLOCK = 32 codes): sub-quantizer j of block b is 16 bytes at
// (b · mpad + j) · 16; byte i holds code i of the block in its low nibble, code 16 + i in its high one.

static inline size_t emit_selected(uint32_t mask, const uint16_t *sums, size_t first, size_t limit, uint32_t *out_index,
                                   uint16_t *out_value, size_t w) {
    while (mask) {
        unsigned i = (unsigned)__builtin_ctz(mask);
        mask &= mask - 1;
        if (first + i >= limit) break;
        out_index[w] = (uint32_t)(first + i);
        out_value[w] = sums[i];
        w++;
    }
    return w;
}

static size_t pq4_scan_scalar(const uint8_t *lut, size_t mpad, const uint8_t *codes, size_t n, uint16_t threshold,
                              uint32_t *out_index, uint16_t *out_value) {
    size_t w = 0;
    for (size_t first = 0; first < n; first += SK_PQ4_BLOCK) {
        const uint8_t *block = codes + (first / SK_PQ4_BLOCK) * mpad * 16;
        uint16_t sums[SK_PQ4_BLOCK] = {0};
        for (size_t j = 0; j < mpad; j++) {
            for (int i = 0; i < 16; i++) {
                uint8_t byte = block[j * 16 + i];
                sums[i] += lut[j * 16 + (byte & 15)];
                sums[16 + i] += lut[j * 16 + (byte >> 4)];
            }
        }
        uint32_t mask = 0;
        for (int i = 0; i < SK_PQ4_BLOCK; i++) mask |= (uint32_t)(sums[i] <= threshold) << i;
        w = emit_selected(mask, sums, first, n, out_index, out_value, w);
    }
    return w;
}

/// Sums of one block in two registers: codes 0…15 and 16…31, from accumulators that hold
/// (even codes, odd codes) × (low, high half) with one sub-quantizer per 128-bit lane.
SK_AVX2 static inline void pq4_finish_avx2(__m256i even_lo, __m256i odd_lo, __m256i even_hi, __m256i odd_hi, uint16_t *sums) {
    __m128i el = _mm_add_epi16(_mm256_castsi256_si128(even_lo), _mm256_extracti128_si256(even_lo, 1));
    __m128i ol = _mm_add_epi16(_mm256_castsi256_si128(odd_lo), _mm256_extracti128_si256(odd_lo, 1));
    __m128i eh = _mm_add_epi16(_mm256_castsi256_si128(even_hi), _mm256_extracti128_si256(even_hi, 1));
    __m128i oh = _mm_add_epi16(_mm256_castsi256_si128(odd_hi), _mm256_extracti128_si256(odd_hi, 1));
    _mm_storeu_si128((__m128i *)(sums + 0), _mm_unpacklo_epi16(el, ol));
    _mm_storeu_si128((__m128i *)(sums + 8), _mm_unpackhi_epi16(el, ol));
    _mm_storeu_si128((__m128i *)(sums + 16), _mm_unpacklo_epi16(eh, oh));
    _mm_storeu_si128((__m128i *)(sums + 24), _mm_unpackhi_epi16(eh, oh));
}

/// Bit i set when sums[i] ≤ threshold, for the 32 sums of a block.
SK_AVX2 static inline uint32_t pq4_mask_avx2(const uint16_t *sums, uint16_t threshold) {
    const __m256i t = _mm256_set1_epi16((short)threshold);
    __m256i a = _mm256_loadu_si256((const __m256i *)sums), b = _mm256_loadu_si256((const __m256i *)(sums + 16));
    __m256i ea = _mm256_cmpeq_epi16(_mm256_min_epu16(a, t), a), eb = _mm256_cmpeq_epi16(_mm256_min_epu16(b, t), b);
    // Two mask bits per u16; pack to bytes keeps lane order (a0-7, b0-7, a8-15, b8-15), so restore it.
    __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi16(ea, eb), 0xD8);
    return (uint32_t)_mm256_movemask_epi8(packed);
}

/// Adds one pair of sub-quantizers (j, j + 1; one per 128-bit lane) of a block to the four
/// accumulators: even and odd codes of the low half (codes 0…15) and of the high half (16…31).
SK_AVX2 static inline void pq4_pair_avx2(const uint8_t *block, const uint8_t *lut, size_t j, __m256i *even_lo, __m256i *odd_lo,
                                         __m256i *even_hi, __m256i *odd_hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), low8 = _mm256_set1_epi16(0x00ff);
    __m256i c = _mm256_loadu_si256((const __m256i *)(block + j * 16));
    __m256i table = _mm256_loadu_si256((const __m256i *)(lut + j * 16));
    __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(c, low4));
    __m256i hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(c, 4), low4));
    *even_lo = _mm256_add_epi16(*even_lo, _mm256_and_si256(lo, low8));
    *odd_lo = _mm256_add_epi16(*odd_lo, _mm256_srli_epi16(lo, 8));
    *even_hi = _mm256_add_epi16(*even_hi, _mm256_and_si256(hi, low8));
    *odd_hi = _mm256_add_epi16(*odd_hi, _mm256_srli_epi16(hi, 8));
}

SK_AVX2 static size_t pq4_scan_avx2(const uint8_t *lut, size_t mpad, const uint8_t *codes, size_t n, uint16_t threshold,
                                    uint32_t *out_index, uint16_t *out_value) {
    size_t w = 0;
    uint16_t sums[SK_PQ4_BLOCK];
    for (size_t first = 0; first < n; first += SK_PQ4_BLOCK) {
        const uint8_t *block = codes + (first / SK_PQ4_BLOCK) * mpad * 16;
        __m256i even_lo = _mm256_setzero_si256(), odd_lo = even_lo, even_hi = even_lo, odd_hi = even_lo;
        for (size_t j = 0; j < mpad; j += 2) pq4_pair_avx2(block, lut, j, &even_lo, &odd_lo, &even_hi, &odd_hi);
        pq4_finish_avx2(even_lo, odd_lo, even_hi, odd_hi, sums);
        uint32_t mask = pq4_mask_avx2(sums, threshold);
        if (mask) w = emit_selected(mask, sums, first, n, out_index, out_value, w);
    }
    return w;
}

SK_AVX512 static size_t pq4_scan_avx512(const uint8_t *lut, size_t mpad, const uint8_t *codes, size_t n, uint16_t threshold,
                                        uint32_t *out_index, uint16_t *out_value) {
    const __m512i low4 = _mm512_set1_epi8(0x0f), low8 = _mm512_set1_epi16(0x00ff);
    const __m512i t = _mm512_set1_epi16((short)threshold);
    const size_t m4 = mpad & ~(size_t)3;
    size_t w = 0;
    uint16_t sums[SK_PQ4_BLOCK];
    for (size_t first = 0; first < n; first += SK_PQ4_BLOCK) {
        const uint8_t *block = codes + (first / SK_PQ4_BLOCK) * mpad * 16;
        __m512i el = _mm512_setzero_si512(), ol = el, eh = el, oh = el;
        for (size_t j = 0; j < m4; j += 4) {
            __m512i c = _mm512_loadu_si512((const void *)(block + j * 16));
            __m512i table = _mm512_loadu_si512((const void *)(lut + j * 16));
            __m512i lo = _mm512_shuffle_epi8(table, _mm512_and_si512(c, low4));
            __m512i hi = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(c, 4), low4));
            el = _mm512_add_epi16(el, _mm512_and_si512(lo, low8));
            ol = _mm512_add_epi16(ol, _mm512_srli_epi16(lo, 8));
            eh = _mm512_add_epi16(eh, _mm512_and_si512(hi, low8));
            oh = _mm512_add_epi16(oh, _mm512_srli_epi16(hi, 8));
        }
        // Fold the four lanes to two, then finish a last pair of sub-quantizers at 256 bits.
        __m256i el2 = _mm256_add_epi16(_mm512_castsi512_si256(el), _mm512_extracti64x4_epi64(el, 1));
        __m256i ol2 = _mm256_add_epi16(_mm512_castsi512_si256(ol), _mm512_extracti64x4_epi64(ol, 1));
        __m256i eh2 = _mm256_add_epi16(_mm512_castsi512_si256(eh), _mm512_extracti64x4_epi64(eh, 1));
        __m256i oh2 = _mm256_add_epi16(_mm512_castsi512_si256(oh), _mm512_extracti64x4_epi64(oh, 1));
        if (m4 < mpad) pq4_pair_avx2(block, lut, m4, &el2, &ol2, &eh2, &oh2);
        pq4_finish_avx2(el2, ol2, eh2, oh2, sums);
        uint32_t mask = (uint32_t)_mm512_cmple_epu16_mask(_mm512_loadu_si512((const void *)sums), t);
        if (mask) w = emit_selected(mask, sums, first, n, out_index, out_value, w);
    }
    return w;
}

size_t sk_pq4_scan(const uint8_t *lut, size_t mpad, const uint8_t *codes, size_t n, uint16_t threshold,
                   uint32_t *out_index, uint16_t *out_value) {
    switch (sk_isa_active()) {
    case SK_ISA_AVX512: return pq4_scan_avx512(lut, mpad, codes, n, threshold, out_index, out_value);
    case SK_ISA_AVX2: return pq4_scan_avx2(lut, mpad, codes, n, threshold, out_index, out_value);
    default: return pq4_scan_scalar(lut, mpad, codes, n, threshold, out_index, out_value);
    }
}

// ---------------------------------------------------------------------------------------------
// Nearest centroid in a low dimension (product-quantizer training and encoding), without the
// n × k product matrix that sgemm would write and the argmin would read back.

static void nearest_transposed_scalar(const float *x, size_t n, size_t ldx, size_t d, const float *ct, const float *bias, size_t k,
                                      int32_t *out_index, float *out_value) {
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx;
        float best = INFINITY;
        size_t best_c = 0;
        for (size_t c = 0; c < k; c++) {
            float v = 0;
            for (size_t t = 0; t < d; t++) v += xi[t] * ct[t * k + c];
            v = bias[c] - 2.0f * v;
            if (v < best) { best = v; best_c = c; }
        }
        out_index[i] = (int32_t)best_c;
        out_value[i] = best;
    }
}

/// Running minimum over R registers of 16 centroids starting at c0. R is a compile-time constant
/// at each call, so the accumulators stay in registers.
#define SK_NEAREST_BLOCK(R)                                                                                  \
    do {                                                                                                     \
        __m512 acc[R];                                                                                       \
        for (int r = 0; r < R; r++) acc[r] = _mm512_loadu_ps(bias + c0 + 16 * r);                           \
        for (size_t t = 0; t < d; t++) {                                                                     \
            const __m512 xv = _mm512_set1_ps(-2.0f * xi[t]);                                                 \
            const float *row = ct + t * k + c0;                                                              \
            for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(row + 16 * r), acc[r]); \
        }                                                                                                    \
        for (int r = 0; r < R; r++) {                                                                        \
            __mmask16 better = _mm512_cmp_ps_mask(acc[r], best, _CMP_LT_OQ);                                 \
            best = _mm512_mask_mov_ps(best, better, acc[r]);                                                 \
            best_index = _mm512_mask_mov_epi32(best_index, better,                                           \
                                               _mm512_add_epi32(lane, _mm512_set1_epi32((int)(c0 + 16 * r)))); \
        }                                                                                                    \
    } while (0)

SK_AVX512 static void nearest_transposed_avx512(const float *x, size_t n, size_t ldx, size_t d, const float *ct, const float *bias,
                                                size_t k, int32_t *out_index, float *out_value) {
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx;
        __m512 best = _mm512_set1_ps(INFINITY);
        __m512i best_index = _mm512_setzero_si512();
        size_t c0 = 0;
        for (; c0 + 256 <= k; c0 += 256) SK_NEAREST_BLOCK(16);
        for (; c0 + 64 <= k; c0 += 64) SK_NEAREST_BLOCK(4);
        for (; c0 < k; c0 += 16) SK_NEAREST_BLOCK(1);
        const float minimum = _mm512_reduce_min_ps(best);
        __mmask16 at_min = _mm512_cmp_ps_mask(best, _mm512_set1_ps(minimum), _CMP_EQ_OQ);
        out_index[i] = _mm512_mask_reduce_min_epi32(at_min, best_index);
        out_value[i] = minimum;
    }
}

void sk_nearest_transposed(const float *x, size_t n, size_t ldx, size_t d, const float *centroids_t, const float *bias, size_t k,
                           int32_t *out_index, float *out_value) {
    if (sk_isa_active() == SK_ISA_AVX512 && k % 16 == 0) nearest_transposed_avx512(x, n, ldx, d, centroids_t, bias, k, out_index, out_value);
    else nearest_transposed_scalar(x, n, ldx, d, centroids_t, bias, k, out_index, out_value);
}
