// A fast reader for JSON arrays of numbers into float32: the hot path of every search request
// (docs/performance.md §6). Anything unusual returns -1 and the Swift reader takes over.
#include "shortlist_kernels.h"
#include "simd_common.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

// 10^k for k ≤ 22 is exact in double; above, within half a double ulp, which is far below
// float32 resolution (embedding noise values such as 1.4e-33 need the wide range).
static const double sk_pow10_pos[65] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31,
    1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47,
    1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60, 1e61, 1e62, 1e63, 1e64};

static inline int sk_is_space(unsigned char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static inline uint64_t sk_load8(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;  // little-endian: p[0] in the low byte
}

// Whether all 8 bytes are ASCII digits (the usual SWAR test: no high nibble other than 3, and
// adding 6 to each byte does not carry into the high nibble).
static inline int sk_eight_digits(uint64_t v) {
    return (((v & 0xF0F0F0F0F0F0F0F0ull) | (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) == 0x3333333333333333ull);
}

// The value of 8 ASCII digits, first byte most significant, in three multiplications.
static inline uint32_t sk_parse8(uint64_t v) {
    v -= 0x3030303030303030ull;
    v = v * 10 + (v >> 8);
    v = (((v & 0x000000FF000000FFull) * 0x000F424000000064ull) + (((v >> 16) & 0x000000FF000000FFull) * 0x0000271000000001ull)) >> 32;
    return (uint32_t)v;
}

// One number without its sign (text[*p] is its first character) into *value, the general way:
// digit by digit, with fraction digits eight at a time, and an exponent. Returns 0, or -1 when
// it is not a plain JSON number that fits.
static inline __attribute__((always_inline)) int sk_number_scalar(const unsigned char *text, size_t length, size_t *position, double *value) {
    size_t p = *position;
    if (p >= length || (unsigned)(text[p] - '0') > 9) return -1;
    // Up to 19 significant digits go into the mantissa (< 10^19 fits in 64 bits); later
    // integer digits only scale it, later fraction digits are dropped.
    uint64_t mantissa = 0;
    int exponent = 0;
    if (text[p] == '0') {
        p++;
    } else {
        while (p < length && (unsigned)(text[p] - '0') <= 9) {
            if (mantissa < 1000000000000000000ull) mantissa = mantissa * 10 + (uint64_t)(text[p] - '0'); else exponent++;
            p++;
        }
    }
    if (p < length && text[p] == '.') {
        p++;
        size_t fraction = p;
        while (p + 8 <= length && mantissa < 100000000000ull && sk_eight_digits(sk_load8(text + p))) {
            mantissa = mantissa * 100000000ull + sk_parse8(sk_load8(text + p));
            exponent -= 8;
            p += 8;
        }
        while (p < length && (unsigned)(text[p] - '0') <= 9) {
            if (mantissa < 1000000000000000000ull) { mantissa = mantissa * 10 + (uint64_t)(text[p] - '0'); exponent--; }
            p++;
        }
        if (p == fraction) return -1;
    }
    if (p < length && (text[p] | 0x20) == 'e') {
        p++;
        int exponentNegative = 0;
        if (p < length && (text[p] == '+' || text[p] == '-')) { exponentNegative = text[p] == '-'; p++; }
        if (p >= length || (unsigned)(text[p] - '0') > 9) return -1;
        int e = 0;
        while (p < length && (unsigned)(text[p] - '0') <= 9) { if (e < 10000) e = e * 10 + (text[p] - '0'); p++; }
        exponent += exponentNegative ? -e : e;
    }
    if (mantissa == 0) {
        *value = 0;
    } else if (exponent >= -64 && exponent <= 64) {
        double v = (double)mantissa;
        *value = exponent < 0 ? v / sk_pow10_pos[-exponent] : v * sk_pow10_pos[exponent];
    } else {
        return -1;  // beyond float32 range either way: let the general reader say so
    }
    *position = p;
    return 0;
}

// The common case in 16 bytes (all readable), without a loop over the characters: digits with at
// most one '.', then ',' or ']' (e.g. `0.04429316,`). The delimiter's position comes from one
// comparison, so the next number's start does not wait for this one's digits. The digits,
// right-aligned in 16 lanes with the '.' squeezed out by one shuffle, become two 8-digit halves
// in three multiply-adds; the result is the same mantissa / 10^k the general reader computes.
// Returns the number's length, or 0 to leave it to the general reader (an exponent, spaces,
// 16 or more characters, or anything that is not a JSON number).
SK_AVX2 static inline size_t sk_number16_avx2(const unsigned char *s, double *value) {
    const __m128i v = _mm_loadu_si128((const __m128i *)s);
    const unsigned delimiters = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')), _mm_cmpeq_epi8(v, _mm_set1_epi8(']'))));
    if (delimiters == 0) return 0;
    const int length = __builtin_ctz(delimiters);
    const unsigned span = (1u << length) - 1;
    const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    const unsigned digits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)) & span;
    const unsigned dots = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.'))) & span;
    if (length == 0 || (digits | dots) != span || (dots & (dots - 1)) != 0) return 0;
    const int dot = dots ? __builtin_ctz(dots) : length;
    // JSON wants a digit on both sides of the '.', and no leading zero before other digits.
    if (dot == 0 || dot == length - 1 || (s[0] == '0' && dot > 1)) return 0;
    const int count = length - (dots != 0);  // digits, at most 15
    const int fraction = dots ? length - dot - 1 : 0;
    // Lane j of the result takes digit k = j - (16 - count): character k, or k + 1 past the '.';
    // lanes with k < 0 get an index with the high bit set, which the shuffle turns into 0.
    const __m128i k = _mm_sub_epi8(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm_set1_epi8((char)(16 - count)));
    const __m128i pastDot = _mm_and_si128(_mm_cmpgt_epi8(k, _mm_set1_epi8((char)(dot - 1))), _mm_set1_epi8(1));
    const __m128i index = _mm_or_si128(_mm_add_epi8(k, pastDot), _mm_cmpgt_epi8(_mm_setzero_si128(), k));
    const __m128i aligned = _mm_shuffle_epi8(d, index);
    const __m128i pairs = _mm_maddubs_epi16(aligned, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
    const __m128i quads = _mm_madd_epi16(pairs, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    const __m128i packed = _mm_packus_epi32(quads, quads);
    const __m128i halves = _mm_madd_epi16(packed, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
    const uint64_t mantissa = (uint64_t)(uint32_t)_mm_cvtsi128_si32(halves) * 100000000ull + (uint32_t)_mm_extract_epi32(halves, 1);
    *value = (double)mantissa / sk_pow10_pos[fraction];
    return (size_t)length;
}

// The array loop, with the 16-byte reader for numbers that have 16 bytes before the end when
// `fast` is set (always inlined into the two callers below, so that choice is fixed in each).
static inline __attribute__((always_inline)) ptrdiff_t sk_float_array(const unsigned char *text, size_t length, float *out, size_t capacity, size_t *count,
                                                                      size_t (*fast)(const unsigned char *, double *)) {
    size_t p = 0, n = 0;
    *count = 0;
    if (p >= length || text[p] != '[') return -1;
    p++;
    while (p < length && sk_is_space(text[p])) p++;
    if (p < length && text[p] == ']') return (ptrdiff_t)(p + 1);
    for (;;) {
        while (p < length && sk_is_space(text[p])) p++;
        if (p >= length) return -1;
        const int negative = text[p] == '-';
        p += (size_t)negative;
        double value;
        float f;
        size_t taken = fast && p + 16 <= length ? fast(text + p, &value) : 0;
        if (taken) {
            p += taken;
            f = (float)(negative ? -value : value);  // below 10^15: always finite
        } else {
            if (sk_number_scalar(text, length, &p, &value) != 0) return -1;
            f = (float)(negative ? -value : value);
            if (!isfinite(f)) return -1;
        }
        if (n >= capacity) return -1;
        out[n++] = f;
        while (p < length && sk_is_space(text[p])) p++;
        if (p >= length) return -1;
        if (text[p] == ',') { p++; continue; }
        if (text[p] != ']') return -1;
        *count = n;
        return (ptrdiff_t)(p + 1);
    }
}

SK_AVX2 static ptrdiff_t sk_parse_float_array_avx2(const unsigned char *text, size_t length, float *out, size_t capacity, size_t *count) {
    return sk_float_array(text, length, out, capacity, count, sk_number16_avx2);
}

static ptrdiff_t sk_parse_float_array_scalar(const unsigned char *text, size_t length, float *out, size_t capacity, size_t *count) {
    return sk_float_array(text, length, out, capacity, count, 0);
}

ptrdiff_t sk_parse_float_array(const unsigned char *text, size_t length, float *out, size_t capacity, size_t *count) {
    return sk_isa_active() != SK_ISA_SCALAR ? sk_parse_float_array_avx2(text, length, out, capacity, count)
                                            : sk_parse_float_array_scalar(text, length, out, capacity, count);
}
