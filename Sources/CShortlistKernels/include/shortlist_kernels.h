// Shortlist's C kernels: the few hot loops Swift cannot match (docs/performance.md §2, §4, §5).
// Pure functions on pointers. Each kernel has AVX-512, AVX2+FMA and scalar versions; the best
// one the CPU supports is chosen once, at start-up, by CPU detection.
#ifndef SHORTLIST_KERNELS_H
#define SHORTLIST_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set levels a kernel table can use.
typedef enum {
    SK_ISA_SCALAR = 0,
    SK_ISA_AVX2 = 1,    // AVX2 + FMA
    SK_ISA_AVX512 = 2,  // AVX-512 F + BW + VL
} sk_isa;

/// The best level this CPU supports.
sk_isa sk_isa_detected(void);
/// The level in use now (the detected one unless forced).
sk_isa sk_isa_active(void);
/// Forces a level (for tests and benchmarks). Returns 0 when the CPU lacks it (nothing changes).
int sk_isa_force(sk_isa isa);
/// "avx512", "avx2", or "scalar".
const char *sk_isa_name(sk_isa isa);

/// Squared Euclidean distance between two vectors of `d` floats.
float sk_l2sq(const float *a, const float *b, size_t d);
/// Inner product of two vectors of `d` floats.
float sk_ip(const float *a, const float *b, size_t d);

/// out[i] = ‖q − rows[i]‖² for `count` contiguous rows of `d` floats (row-major, stride d).
void sk_l2sq_rows(const float *q, const float *rows, size_t count, size_t d, float *out);
/// out[i] = q · rows[i] for `count` contiguous rows of `d` floats.
void sk_ip_rows(const float *q, const float *rows, size_t count, size_t d, float *out);

/// out[i] = ‖q − base[ids[i]]‖², prefetching the next rows (random access, as in graph search).
void sk_l2sq_ids(const float *q, const float *base, size_t d, const uint32_t *ids, size_t count, float *out);
/// out[i] = q · base[ids[i]], prefetching the next rows.
void sk_ip_ids(const float *q, const float *base, size_t d, const uint32_t *ids, size_t count, float *out);

/// Half-precision rows (IEEE binary16, little-endian u16): distances from a float query.
float sk_l2sq_f16(const float *q, const uint16_t *x, size_t d);
float sk_ip_f16(const float *q, const uint16_t *x, size_t d);
/// out[i] = ‖q − base[ids[i]]‖² / q · base[ids[i]] over half-precision rows of `d`, with prefetch.
void sk_l2sq_f16_ids(const float *q, const uint16_t *base, size_t d, const uint32_t *ids, size_t count, float *out);
void sk_ip_f16_ids(const float *q, const uint16_t *base, size_t d, const uint32_t *ids, size_t count, float *out);
/// Converts `n` floats to half precision (round to nearest even; beyond ±65504 becomes ±infinity).
void sk_f32_to_f16(const float *in, uint16_t *out, size_t n);
/// Converts `n` half-precision values to float (exact).
void sk_f16_to_f32(const uint16_t *in, float *out, size_t n);

/// 8-bit scalar-quantized rows: Σ_j q[j] · x[j] over `stride` components (a multiple of 32;
/// rows and query zero-padded to it). The caller keeps Σ|q[j]| · 255 below 2³¹ (no overflow).
int32_t sk_sq8_dot(const int16_t *q, const uint8_t *x, size_t stride);
/// out[i] = base + factor · sk_sq8_dot(q, codes + ids[i]·stride) + (norms ? norms[ids[i]] : 0),
/// prefetching the next rows: the estimated distances of an SQ8 graph walk.
void sk_sq8_ids(const int16_t *q, const uint8_t *codes, size_t stride, const uint32_t *ids, size_t count,
                float base, float factor, const float *norms, float *out);

/// Like `sk_l2sq_ids`, but each row is summed in blocks of `SK_BOUND_BLOCK` components and stops
/// being read once its partial sum reaches `bound`: its output is then that partial sum
/// (≥ bound). Exact for callers that reject candidates at or beyond `bound`, and it reads fewer
/// bytes (+7% queries/s on Fashion-MNIST HNSW). Prefetches only each upcoming row's first lines.
/// (Half-precision rows gain nothing from it: per-block reductions cost more than the bytes saved,
/// −10% measured, so they use `sk_l2sq_f16_ids`.)
void sk_l2sq_ids_bounded(const float *q, const float *base, size_t d, const uint32_t *ids, size_t count, float bound, float *out);
/// Components per block of the bounded kernels.
#define SK_BOUND_BLOCK 128

/// Turns one row of inner products into distances and keeps those below a threshold:
/// dist[j] = (bias ? bias[j] : 0) + alpha · ip[j]; for each j with dist[j] < threshold, writes j
/// to out_index and dist[j] to out_dist (in increasing j). Returns how many were written
/// (at most n). Used after sgemm: alpha = −2 with bias = ‖x‖² for L2, alpha = −1 for inner product.
size_t sk_select_affine_below(const float *ip, const float *bias, float alpha, size_t n, float threshold,
                              uint32_t *out_index, float *out_dist);

/// 8-bit product-quantization scan: out[i] = bias + (extra ? extra[i] : 0) + Σ_j table[j·256 + codes[i·m + j]]
/// for `n` codes of `m` bytes (asymmetric distance computation against a per-query table of m × 256;
/// `extra` carries a per-code constant such as IVF-PQ's 2⟨c, r̂⟩ + ‖r̂‖²).
void sk_pq8_scan(const float *table, size_t m, const uint8_t *codes, size_t n, float bias, const float *extra, float *out);

/// Product-quantization table: table[j·256 + c] = (base ? base[j·256 + c] : 0) + scale · ⟨q_j, C_jc⟩
/// for `m` sub-spaces of `dsub` components, from codebooks transposed to m × dsub × 256
/// (vectorised across the 256 centroids). With base = ‖C_jc‖² and scale = −2 it is the L2 table
/// of a residual, less the constant ‖q‖².
void sk_pq_ip_table(const float *q, const float *codebooks_t, size_t m, size_t dsub, float scale, const float *base, float *table);

/// Codes per block of the 4-bit fast-scan layout.
#define SK_PQ4_BLOCK 32

/// 4-bit PQ table: table[j·16 + c] = (base ? base[j·16 + c] : 0) + scale · ⟨q_j, C_jc⟩ for `m`
/// sub-spaces of `dsub` components, from codebooks transposed to m × dsub × 16.
void sk_pq4_table(const float *q, const float *codebooks_t, size_t m, size_t dsub, float scale, const float *base, float *table);

/// Quantizes a float table (m × 16, plus `addend` element-wise when not NULL) to bytes for the fast
/// scan: lut[j·16 + c] = round((t_jc − min_c t_jc) / step), one `step` for all j chosen so the
/// widest sub-table spans 0…255. Rows m…mpad−1 of `lut` are zeroed. A code's distance is then
/// Σ_j t_j,code_j ≈ offset + step · Σ_j lut[j·16 + code_j], within m · step / 2.
void sk_pq4_quantize_lut(const float *table, const float *addend, size_t m, size_t mpad, uint8_t *lut,
                         float *out_step, float *out_offset);

/// 4-bit fast scan over `n` codes in the block layout: blocks of SK_PQ4_BLOCK codes, in which
/// sub-quantizer j (< mpad, even) of block b is 16 bytes at (b · mpad + j) · 16, byte i holding
/// code i of the block in its low nibble and code 16 + i in its high nibble. For every code i
/// whose sum s_i = Σ_j lut[j·16 + code_ij] is ≤ threshold, writes i and s_i (increasing i);
/// returns how many. Requires mpad · 255 ≤ 65535 (sums are 16-bit).
size_t sk_pq4_scan(const uint8_t *lut, size_t mpad, const uint8_t *codes, size_t n, uint16_t threshold,
                   uint32_t *out_index, uint16_t *out_value);

/// Nearest centroid for rows of a low dimension: for each of `n` rows x_i (`d` floats, rows
/// `ldx` floats apart), the c < k minimising bias[c] − 2⟨x_i, C_c⟩ (ties: the lowest c) and that
/// value, from centroids transposed to d × k (row t holds component t of every centroid). With
/// bias = ‖C_c‖² it is the L2 assignment less ‖x_i‖²; padding centroids get bias = +infinity.
/// Vectorised when k is a multiple of 16. Faster than sgemm + argmin for d up to ~32.
void sk_nearest_transposed(const float *x, size_t n, size_t ldx, size_t d, const float *centroids_t, const float *bias, size_t k,
                           int32_t *out_index, float *out_value);

/// The j minimising (bias ? bias[j] : 0) + alpha · ip[j] over j < n (ties: the lowest j), and that
/// value in *out_value. Used after sgemm to assign points to their nearest centroid.
size_t sk_argmin_affine(const float *ip, const float *bias, float alpha, size_t n, float *out_value);

/// Indices j < n with values[j] < threshold, written in increasing order; returns the count.
size_t sk_select_below(const float *values, size_t n, float threshold, uint32_t *out_index);

/// Index of the first value that is NaN or ±infinity, or n when all are finite.
size_t sk_first_nonfinite(const float *values, size_t n);

/// CRC-32C (Castagnoli) of `len` bytes, continuing from `crc` (start with 0).
/// Uses the SSE4.2 instruction when present.
uint32_t sk_crc32c(uint32_t crc, const void *data, size_t len);
/// The same checksum through the portable table path only (tests compare both paths).
uint32_t sk_crc32c_portable(uint32_t crc, const void *data, size_t len);

/// Hints the CPU to fetch the cache line at `p` (no effect on results).
void sk_prefetch(const void *p);

/// Acquires a one-byte spinlock (0 = free). Used for per-node locks while a graph is built in parallel.
void sk_spin_lock(uint8_t *lock);
/// Releases a lock taken by `sk_spin_lock`.
void sk_spin_unlock(uint8_t *lock);

/// Replaces `row` (n ≥ 1 logits) by `scale` × its softmax and returns log Σ exp(row): the
/// trainer's sampled-softmax loss (scale 1/batch gives the mean loss's gradient directly).
/// -infinity entries (masked logits) become exactly 0. exp is a polynomial with relative error
/// below 2e-7.
float sk_softmax_row(float *row, size_t n, float scale);

/// Reads a JSON array of numbers (`text` starts at '[') into `out` (room for `capacity` floats).
/// Returns the bytes consumed and sets `*count`, or -1 when the array is not plain numbers that
/// fit (non-number, syntax error, too many, |exponent| beyond 64 after scaling, non-finite
/// float32): the caller then reads it with a general, error-reporting path. Mantissas keep 19
/// significant digits and are scaled by 10^k in double (exact up to 10^22); the float may differ
/// from correct rounding by one ulp in rare halfway cases. With AVX2, a number of at most 15
/// digits and one '.' followed by ',' or ']' within 16 bytes is read from one 16-byte load (same
/// result, ~1.4× faster on embedding text).
ptrdiff_t sk_parse_float_array(const unsigned char *text, size_t length, float *out, size_t capacity, size_t *count);

/// Decodes standard base64 (RFC 4648 alphabet, `=` padding optional) into `out`. Returns the
/// number of bytes written, or -1 for a character outside the alphabet, misplaced padding, a
/// non-canonical last group, or more than `capacity` bytes.
ptrdiff_t sk_base64_decode(const unsigned char *text, size_t length, unsigned char *out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
