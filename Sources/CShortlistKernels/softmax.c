// Row softmax for the trainer's sampled-softmax loss: exp through a branch-free polynomial
// (Cephes' expf, relative error < 2e-7), AVX-512 / AVX2 / scalar chosen by sk_isa_active().
#include <math.h>
#include "shortlist_kernels.h"
#include "simd_common.h"

#define EXP_HI 88.3762626647949f
#define EXP_LO -87.3365447504f

static inline float exp_scalar(float x) {
    if (x < EXP_LO) return 0.0f;
    if (x > EXP_HI) x = EXP_HI;
    float n = nearbyintf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    union { float f; int32_t i; } scale = {.i = ((int32_t)n + 127) << 23};
    return p * scale.f;
}

static float softmax_scalar(float *row, size_t n, float scale) {
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++) mx = row[i] > mx ? row[i] : mx;
    float sum = 0;
    for (size_t i = 0; i < n; i++) { row[i] = exp_scalar(row[i] - mx); sum += row[i]; }
    float inv = scale / sum;
    for (size_t i = 0; i < n; i++) row[i] *= inv;
    return mx + logf(sum);
}

SK_AVX2 static inline __m256 exp_avx2(__m256 x) {
    __m256 zero_mask = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_LO), _CMP_GE_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(EXP_LO)), _mm256_set1_ps(EXP_HI));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), zero_mask);
}

SK_AVX2 static float softmax_avx2(float *row, size_t n, float scale) {
    size_t i = 0;
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(row + i));
    float buf[8];
    _mm256_storeu_ps(buf, vmx);
    float mx = -INFINITY;
    for (int j = 0; j < 8; j++) mx = buf[j] > mx ? buf[j] : mx;
    for (; i < n; i++) mx = row[i] > mx ? row[i] : mx;
    __m256 vm = _mm256_set1_ps(mx), vs = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(row + i), vm));
        _mm256_storeu_ps(row + i, e);
        vs = _mm256_add_ps(vs, e);
    }
    float sum = sk_hsum256(vs);
    for (; i < n; i++) { row[i] = exp_scalar(row[i] - mx); sum += row[i]; }
    __m256 vinv = _mm256_set1_ps(scale / sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(row + i, _mm256_mul_ps(_mm256_loadu_ps(row + i), vinv));
    for (; i < n; i++) row[i] *= scale / sum;
    return mx + logf(sum);
}

SK_AVX512 static inline __m512 exp_avx512(__m512 x) {
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_LO), _CMP_GE_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(EXP_LO)), _mm512_set1_ps(EXP_HI));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(e));
}

SK_AVX512 static float softmax_avx512(float *row, size_t n, float scale) {
    size_t i = 0;
    __m512 vmx = _mm512_set1_ps(-INFINITY);
    for (; i + 16 <= n; i += 16) vmx = _mm512_max_ps(vmx, _mm512_loadu_ps(row + i));
    float mx = _mm512_reduce_max_ps(vmx);
    for (; i < n; i++) mx = row[i] > mx ? row[i] : mx;
    __m512 vm = _mm512_set1_ps(mx), vs = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(row + i), vm));
        _mm512_storeu_ps(row + i, e);
        vs = _mm512_add_ps(vs, e);
    }
    float sum = _mm512_reduce_add_ps(vs);
    for (; i < n; i++) { row[i] = exp_scalar(row[i] - mx); sum += row[i]; }
    __m512 vinv = _mm512_set1_ps(scale / sum);
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(row + i, _mm512_mul_ps(_mm512_loadu_ps(row + i), vinv));
    for (; i < n; i++) row[i] *= scale / sum;
    return mx + logf(sum);
}

float sk_softmax_row(float *row, size_t n, float scale) {
    switch (sk_isa_active()) {
    case SK_ISA_AVX512: return softmax_avx512(row, n, scale);
    case SK_ISA_AVX2: return softmax_avx2(row, n, scale);
    default: return softmax_scalar(row, n, scale);
    }
}
