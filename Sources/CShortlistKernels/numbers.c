// A fast reader for JSON arrays of numbers into float32: the hot path of every search request
// (PERFORMANCE.md §6). Anything unusual returns -1 and the Swift reader takes over.
#include "shortlist_kernels.h"
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

ptrdiff_t sk_parse_float_array(const unsigned char *text, size_t length, float *out, size_t capacity, size_t *count) {
    size_t p = 0, n = 0;
    *count = 0;
    if (p >= length || text[p] != '[') return -1;
    p++;
    while (p < length && sk_is_space(text[p])) p++;
    if (p < length && text[p] == ']') return (ptrdiff_t)(p + 1);
    for (;;) {
        while (p < length && sk_is_space(text[p])) p++;
        if (p >= length) return -1;
        int negative = text[p] == '-';
        if (negative) p++;
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
        double value;
        if (mantissa == 0) {
            value = 0;
        } else if (exponent >= -64 && exponent <= 64) {
            value = (double)mantissa;
            value = exponent < 0 ? value / sk_pow10_pos[-exponent] : value * sk_pow10_pos[exponent];
        } else {
            return -1;  // beyond float32 range either way: let the general reader say so
        }
        float f = (float)(negative ? -value : value);
        if (!isfinite(f)) return -1;
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
