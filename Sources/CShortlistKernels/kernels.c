// Distance and selection kernels with runtime dispatch. The translation unit builds with plain
// -O3 (no global -m flags); each vector version carries a target attribute, and a constructor
// picks the table once with __builtin_cpu_supports.
#include "shortlist_kernels.h"
#include "simd_common.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#define AVX512 SK_AVX512
#define AVX2 SK_AVX2

// ---------------------------------------------------------------------------------------------
// AVX2 + FMA versions.


AVX2 static float l2sq_avx2(const float *a, const float *b, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        acc0 = _mm256_fmadd_ps(t0, t0, acc0);
        acc1 = _mm256_fmadd_ps(t1, t1, acc1);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        acc0 = _mm256_fmadd_ps(t, t, acc0);
    }
    float s = sk_hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; i++) { float t = a[i] - b[i]; s += t * t; }
    return s;
}

AVX2 static float ip_avx2(const float *a, const float *b, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= d; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = sk_hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

AVX2 static size_t select_affine_avx2(const float *ip, const float *bias, float alpha, size_t n, float threshold,
                                      uint32_t *out_index, float *out_dist) {
    const __m256 va = _mm256_set1_ps(alpha), vt = _mm256_set1_ps(threshold);
    size_t w = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 b = bias ? _mm256_loadu_ps(bias + j) : _mm256_setzero_ps();
        __m256 v = _mm256_fmadd_ps(va, _mm256_loadu_ps(ip + j), b);
        unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, vt, _CMP_LT_OQ));
        if (m) {
            float tmp[8];
            _mm256_storeu_ps(tmp, v);
            while (m) {
                unsigned l = (unsigned)__builtin_ctz(m);
                out_index[w] = (uint32_t)(j + l); out_dist[w] = tmp[l]; w++;
                m &= m - 1;
            }
        }
    }
    return w + sk_select_affine_tail(ip, bias, alpha, j, n, threshold, out_index + w, out_dist + w);
}

AVX2 static size_t select_below_avx2(const float *values, size_t n, float threshold, uint32_t *out_index) {
    const __m256 vt = _mm256_set1_ps(threshold);
    size_t w = 0, j = 0;
    for (; j + 8 <= n; j += 8) {
        unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(values + j), vt, _CMP_LT_OQ));
        while (m) {
            out_index[w++] = (uint32_t)(j + (unsigned)__builtin_ctz(m));
            m &= m - 1;
        }
    }
    for (; j < n; j++) if (values[j] < threshold) out_index[w++] = (uint32_t)j;
    return w;
}

// ---------------------------------------------------------------------------------------------
// AVX-512 versions (masked loads handle tails that are not a multiple of 16).

/// Finishes an L2 sum from component i: 16 at a time, then a masked tail, then the reduction.
AVX512 static inline float l2sq_finish_avx512(const float *a, const float *b, size_t i, size_t d, __m512 acc0, __m512 acc1) {
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        acc0 = _mm512_fmadd_ps(t, t, acc0);
    }
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        acc1 = _mm512_fmadd_ps(t, t, acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

AVX512 static float l2sq_avx512(const float *a, const float *b, size_t d) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        acc0 = _mm512_fmadd_ps(t0, t0, acc0);
        acc1 = _mm512_fmadd_ps(t1, t1, acc1);
    }
    return l2sq_finish_avx512(a, b, i, d, acc0, acc1);
}

AVX512 static float ip_avx512(const float *a, const float *b, size_t d) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    }
    for (; i + 16 <= d; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    if (i < d) {
        __mmask16 m = (__mmask16)((1u << (d - i)) - 1u);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

AVX512 static size_t select_affine_avx512(const float *ip, const float *bias, float alpha, size_t n, float threshold,
                                          uint32_t *out_index, float *out_dist) {
    const __m512 va = _mm512_set1_ps(alpha), vt = _mm512_set1_ps(threshold);
    const __m512i step = _mm512_set1_epi32(16);
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    size_t w = 0, j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 b = bias ? _mm512_loadu_ps(bias + j) : _mm512_setzero_ps();
        __m512 v = _mm512_fmadd_ps(va, _mm512_loadu_ps(ip + j), b);
        __mmask16 m = _mm512_cmp_ps_mask(v, vt, _CMP_LT_OQ);
        if (m) {
            _mm512_mask_compressstoreu_epi32(out_index + w, m, idx);
            _mm512_mask_compressstoreu_ps(out_dist + w, m, v);
            w += (size_t)__builtin_popcount(m);
        }
        idx = _mm512_add_epi32(idx, step);
    }
    return w + sk_select_affine_tail(ip, bias, alpha, j, n, threshold, out_index + w, out_dist + w);
}

AVX512 static size_t select_below_avx512(const float *values, size_t n, float threshold, uint32_t *out_index) {
    const __m512 vt = _mm512_set1_ps(threshold);
    const __m512i step = _mm512_set1_epi32(16);
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    size_t w = 0, j = 0;
    for (; j + 16 <= n; j += 16) {
        __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(values + j), vt, _CMP_LT_OQ);
        if (m) {
            _mm512_mask_compressstoreu_epi32(out_index + w, m, idx);
            w += (size_t)__builtin_popcount(m);
        }
        idx = _mm512_add_epi32(idx, step);
    }
    for (; j < n; j++) if (values[j] < threshold) out_index[w++] = (uint32_t)j;
    return w;
}

/// ‖a − b‖², stopping once the partial sum reaches `bound` (then returning it, ≥ bound).
/// The bound is checked every 256 components inside one pass.
AVX512 static float l2sq_bounded_avx512(const float *a, const float *b, size_t d, float bound) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t i = 0;
    while (i + 32 <= d) {
        size_t stop = i + 256 < d ? i + 256 : d;
        for (; i + 32 <= stop; i += 32) {
            __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
            __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
            acc0 = _mm512_fmadd_ps(t0, t0, acc0);
            acc1 = _mm512_fmadd_ps(t1, t1, acc1);
        }
        if (i + 32 <= d) {
            float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
            if (s >= bound) return s;
        }
    }
    return l2sq_finish_avx512(a, b, i, d, acc0, acc1);
}

// ---------------------------------------------------------------------------------------------
// Dispatch.

typedef float (*pair_fn)(const float *, const float *, size_t);
typedef size_t (*affine_fn)(const float *, const float *, float, size_t, float, uint32_t *, float *);
typedef size_t (*below_fn)(const float *, size_t, float, uint32_t *);

static struct {
    sk_isa isa;
    pair_fn l2sq, ip;
    affine_fn select_affine;
    below_fn select_below;
} table = {SK_ISA_SCALAR, sk_l2sq_scalar, sk_ip_scalar, sk_select_affine_scalar, sk_select_below_scalar};

static sk_isa detected = SK_ISA_SCALAR;

static void install(sk_isa isa) {
    switch (isa) {
    case SK_ISA_AVX512:
        table.l2sq = l2sq_avx512; table.ip = ip_avx512;
        table.select_affine = select_affine_avx512; table.select_below = select_below_avx512;
        break;
    case SK_ISA_AVX2:
        table.l2sq = l2sq_avx2; table.ip = ip_avx2;
        table.select_affine = select_affine_avx2; table.select_below = select_below_avx2;
        break;
    default:
        table.l2sq = sk_l2sq_scalar; table.ip = sk_ip_scalar;
        table.select_affine = sk_select_affine_scalar; table.select_below = sk_select_below_scalar;
        isa = SK_ISA_SCALAR;
        break;
    }
    table.isa = isa;
}

__attribute__((constructor)) static void sk_init(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
        detected = SK_ISA_AVX512;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        detected = SK_ISA_AVX2;
    } else {
        detected = SK_ISA_SCALAR;
    }
    install(detected);
}

sk_isa sk_isa_detected(void) { return detected; }
sk_isa sk_isa_active(void) { return table.isa; }
int sk_isa_force(sk_isa isa) {
    if ((int)isa > (int)detected || (int)isa < 0) return 0;
    install(isa);
    return 1;
}
const char *sk_isa_name(sk_isa isa) {
    switch (isa) {
    case SK_ISA_AVX512: return "avx512";
    case SK_ISA_AVX2: return "avx2";
    default: return "scalar";
    }
}

float sk_l2sq(const float *a, const float *b, size_t d) { return table.l2sq(a, b, d); }
float sk_ip(const float *a, const float *b, size_t d) { return table.ip(a, b, d); }

void sk_l2sq_rows(const float *q, const float *rows, size_t count, size_t d, float *out) {
    pair_fn f = table.l2sq;
    for (size_t i = 0; i < count; i++) out[i] = f(q, rows + i * d, d);
}

void sk_ip_rows(const float *q, const float *rows, size_t count, size_t d, float *out) {
    pair_fn f = table.ip;
    for (size_t i = 0; i < count; i++) out[i] = f(q, rows + i * d, d);
}

static inline void prefetch_row(const float *row, size_t d) {
    const char *p = (const char *)row;
    size_t bytes = d * sizeof(float);
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o, 0, 3);
}

/// Rows prefetched ahead of the one being computed. Measured on WordNet-MiniLM HNSW (384-d):
/// 0 → 7.1k q/s, 1 → 7.7k, 4 → 8.1k at ef 64; beyond 4 it falls again.
enum { prefetch_ahead = 4 };

static inline void ids_kernel(pair_fn f, const float *q, const float *base, size_t d, const uint32_t *ids, size_t count, float *out) {
    const size_t ahead = prefetch_ahead;
    for (size_t i = 0; i < ahead && i < count; i++) prefetch_row(base + (size_t)ids[i] * d, d);
    for (size_t i = 0; i < count; i++) {
        if (i + ahead < count) prefetch_row(base + (size_t)ids[i + ahead] * d, d);
        out[i] = f(q, base + (size_t)ids[i] * d, d);
    }
}

void sk_l2sq_ids(const float *q, const float *base, size_t d, const uint32_t *ids, size_t count, float *out) {
    ids_kernel(table.l2sq, q, base, d, ids, count, out);
}

void sk_ip_ids(const float *q, const float *base, size_t d, const uint32_t *ids, size_t count, float *out) {
    ids_kernel(table.ip, q, base, d, ids, count, out);
}

/// Prefetches bytes [from, to) of a row.
static inline void prefetch_span(const void *row, size_t from, size_t to) {
    const char *p = (const char *)row;
    for (size_t o = from; o < to; o += 64) __builtin_prefetch(p + o, 0, 3);
}

void sk_l2sq_ids_bounded(const float *q, const float *base, size_t d, const uint32_t *ids, size_t count, float bound, float *out) {
    pair_fn f = table.l2sq;
    const int fused = table.isa == SK_ISA_AVX512;
    const size_t B = SK_BOUND_BLOCK, ahead = prefetch_ahead;
    // Only the first two lines of upcoming rows are prefetched: rows are often abandoned after a
    // block or two, and whole-row prefetches (49 lines at d = 784) four rows ahead overflow the
    // fill buffers (measured: 17.4k q/s whole rows, 21.7k two lines); the hardware follows the stream.
    for (size_t i = 0; i < count; i++) {
        for (size_t j = (i == 0 ? 0 : i + ahead - 1); j < i + ahead && j < count; j++) {
            prefetch_span(base + (size_t)ids[j] * d, 0, 128);
        }
        const float *x = base + (size_t)ids[i] * d;
        if (fused) {
            out[i] = l2sq_bounded_avx512(q, x, d, bound);
            continue;
        }
        float s = 0;
        for (size_t o = 0; o < d; o += B) {
            s += f(q + o, x + o, d - o < B ? d - o : B);
            if (s >= bound) break;
        }
        out[i] = s;
    }
}

size_t sk_select_affine_below(const float *ip, const float *bias, float alpha, size_t n, float threshold,
                              uint32_t *out_index, float *out_dist) {
    return table.select_affine(ip, bias, alpha, n, threshold, out_index, out_dist);
}

size_t sk_select_below(const float *values, size_t n, float threshold, uint32_t *out_index) {
    return table.select_below(values, n, threshold, out_index);
}

size_t sk_first_nonfinite(const float *values, size_t n) {
    // Exponent bits all ones means NaN or infinity; checking 8 words per step keeps this
    // branch-light, and the compiler vectorises the inner OR.
    const uint32_t *bits = (const uint32_t *)values;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint32_t any = 0;
        for (int l = 0; l < 8; l++) any |= ((bits[i + l] & 0x7f800000u) == 0x7f800000u);
        if (any) break;
    }
    for (; i < n; i++) if ((bits[i] & 0x7f800000u) == 0x7f800000u) return i;
    return n;
}
