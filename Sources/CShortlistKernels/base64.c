// Base64 (RFC 4648, standard alphabet) decoding for binary vectors in requests: 2,048 characters
// for a 384-d float32 vector, read ~4× faster than the same vector as decimal text.
#include "shortlist_kernels.h"
#include <stdint.h>

// 0..63 for the alphabet, 0xFF for anything else ('=' included: padding is handled apart).
static const uint8_t sk_base64_value[256] = {
#define X 0xFF
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
#undef X
};

ptrdiff_t sk_base64_decode(const unsigned char *text, size_t length, unsigned char *out, size_t capacity) {
    // Padding is optional, but when present it must make the length a multiple of 4.
    size_t padding = 0;
    if (length >= 1 && text[length - 1] == '=') padding = 1;
    if (length >= 2 && text[length - 2] == '=') padding = 2;
    if (padding > 0 && length % 4 != 0) return -1;
    size_t n = length - padding;
    if (n % 4 == 1) return -1;  // one character cannot end a group
    size_t bytes = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    if (bytes > capacity) return -1;
    size_t i = 0, o = 0;
    for (; i + 4 <= n; i += 4, o += 3) {
        uint32_t a = sk_base64_value[text[i]], b = sk_base64_value[text[i + 1]];
        uint32_t c = sk_base64_value[text[i + 2]], d = sk_base64_value[text[i + 3]];
        if ((a | b | c | d) & 0xC0) return -1;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        out[o] = (unsigned char)(v >> 16);
        out[o + 1] = (unsigned char)(v >> 8);
        out[o + 2] = (unsigned char)v;
    }
    size_t rest = n - i;
    if (rest >= 2) {
        uint32_t a = sk_base64_value[text[i]], b = sk_base64_value[text[i + 1]];
        uint32_t c = rest == 3 ? sk_base64_value[text[i + 2]] : 0;
        if ((a | b | c) & 0xC0) return -1;
        // The bits below the last whole byte must be zero (canonical encoding).
        if (rest == 2 && (b & 0x0F)) return -1;
        if (rest == 3 && (c & 0x03)) return -1;
        uint32_t v = a << 18 | b << 12 | c << 6;
        out[o++] = (unsigned char)(v >> 16);
        if (rest == 3) out[o++] = (unsigned char)(v >> 8);
    }
    return (ptrdiff_t)o;
}
