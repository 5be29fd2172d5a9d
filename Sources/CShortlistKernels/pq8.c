// 8-bit product-quantizer kernels and the coarse quantizer's argmin: the ADC scan over codes,
// the inner-product lookup table, and the nearest centroid from inner products. Vector versions
// carry target attributes; the active instruction set comes from kernels.c's dispatch.
#include "shortlist_kernels.h"
#include "simd_common.h"

#include <immintrin.h>
#include <math.h>

#define AVX512 SK_AVX512

void sk_pq8_scan(const float *table, size_t m, const uint8_t *codes, size_t n, float bias, const float *extra, float *out) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * m;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        size_t j = 0;
        for (; j + 4 <= m; j += 4) {
            s0 += table[(j + 0) * 256 + c[j + 0]];
            s1 += table[(j + 1) * 256 + c[j + 1]];
            s2 += table[(j + 2) * 256 + c[j + 2]];
            s3 += table[(j + 3) * 256 + c[j + 3]];
        }
        for (; j < m; j++) s0 += table[j * 256 + c[j]];
        out[i] = bias + (extra ? extra[i] : 0.0f) + (s0 + s1) + (s2 + s3);
    }
}

static size_t argmin_scalar(const float *ip, const float *bias, float alpha, size_t n, float *out_value) {
    size_t best = 0;
    float best_value = INFINITY;
    for (size_t j = 0; j < n; j++) {
        float v = (bias ? bias[j] : 0.0f) + alpha * ip[j];
        if (v < best_value) { best_value = v; best = j; }
    }
    *out_value = best_value;
    return best;
}

/// Lane-wise minima with their indices, then the lowest index among lanes holding the minimum.
AVX512 static size_t argmin_avx512(const float *ip, const float *bias, float alpha, size_t n, float *out_value) {
    if (n < 16) return argmin_scalar(ip, bias, alpha, n, out_value);
    const __m512 va = _mm512_set1_ps(alpha);
    __m512 best = _mm512_set1_ps(INFINITY);
    __m512i best_index = _mm512_setzero_si512(), index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 b = bias ? _mm512_loadu_ps(bias + j) : _mm512_setzero_ps();
        __m512 v = _mm512_fmadd_ps(va, _mm512_loadu_ps(ip + j), b);
        __mmask16 better = _mm512_cmp_ps_mask(v, best, _CMP_LT_OQ);
        best = _mm512_mask_mov_ps(best, better, v);
        best_index = _mm512_mask_mov_epi32(best_index, better, index);
        index = _mm512_add_epi32(index, step);
    }
    float lanes[16];
    int32_t lane_index[16];
    _mm512_storeu_ps(lanes, best);
    _mm512_storeu_si512(lane_index, best_index);
    float value = INFINITY;
    size_t winner = 0;
    for (int l = 0; l < 16; l++) {
        if (lanes[l] < value || (lanes[l] == value && (size_t)lane_index[l] < winner)) { value = lanes[l]; winner = (size_t)lane_index[l]; }
    }
    for (; j < n; j++) {
        float v = (bias ? bias[j] : 0.0f) + alpha * ip[j];
        if (v < value) { value = v; winner = j; }
    }
    *out_value = value;
    return winner;
}

size_t sk_argmin_affine(const float *ip, const float *bias, float alpha, size_t n, float *out_value) {
    return sk_isa_active() == SK_ISA_AVX512 ? argmin_avx512(ip, bias, alpha, n, out_value) : argmin_scalar(ip, bias, alpha, n, out_value);
}

static void pq_ip_table_scalar(const float *q, const float *cbt, size_t m, size_t dsub, float scale, const float *base, float *table) {
    for (size_t j = 0; j < m; j++) {
        float *out = table + j * 256;
        for (size_t c = 0; c < 256; c++) out[c] = base ? base[j * 256 + c] : 0;
        for (size_t t = 0; t < dsub; t++) {
            float qv = q[j * dsub + t] * scale;
            const float *row = cbt + (j * dsub + t) * 256;
            for (size_t c = 0; c < 256; c++) out[c] += qv * row[c];
        }
    }
}

AVX512 static void pq_ip_table_avx512(const float *q, const float *cbt, size_t m, size_t dsub, float scale, const float *base, float *table) {
    for (size_t j = 0; j < m; j++) {
        __m512 acc[16];
        for (int c = 0; c < 16; c++) acc[c] = base ? _mm512_loadu_ps(base + j * 256 + 16 * c) : _mm512_setzero_ps();
        for (size_t t = 0; t < dsub; t++) {
            __m512 qv = _mm512_set1_ps(q[j * dsub + t] * scale);
            const float *row = cbt + (j * dsub + t) * 256;
            for (int c = 0; c < 16; c++) acc[c] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(row + 16 * c), acc[c]);
        }
        for (int c = 0; c < 16; c++) _mm512_storeu_ps(table + j * 256 + 16 * c, acc[c]);
    }
}

void sk_pq_ip_table(const float *q, const float *codebooks_t, size_t m, size_t dsub, float scale, const float *base, float *out) {
    if (sk_isa_active() == SK_ISA_AVX512) pq_ip_table_avx512(q, codebooks_t, m, dsub, scale, base, out);
    else pq_ip_table_scalar(q, codebooks_t, m, dsub, scale, base, out);
}
