// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every index-file section.
// The SSE4.2 crc32 instruction is used when the CPU has it; otherwise a slicing-by-8 table.
#include "shortlist_kernels.h"

#include <nmmintrin.h>
#include <string.h>

static uint32_t crc_table[8][256];
static int use_hardware = 0;

__attribute__((constructor)) static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xff] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
    __builtin_cpu_init();
    use_hardware = __builtin_cpu_supports("sse4.2");
}

static uint32_t crc_software(uint32_t c, const unsigned char *p, size_t len) {
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^ crc_table[5][(w >> 16) & 0xff] ^
            crc_table[4][(w >> 24) & 0xff] ^ crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
            crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hardware(uint32_t c, const unsigned char *p, size_t len) {
    uint64_t c64 = c;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        len -= 8;
    }
    c = (uint32_t)c64;
    while (len--) c = _mm_crc32_u8(c, *p++);
    return c;
}

uint32_t sk_crc32c(uint32_t crc, const void *data, size_t len) {
    uint32_t c = ~crc;
    c = use_hardware ? crc_hardware(c, (const unsigned char *)data, len)
                     : crc_software(c, (const unsigned char *)data, len);
    return ~c;
}

uint32_t sk_crc32c_portable(uint32_t crc, const void *data, size_t len) {
    return ~crc_software(~crc, (const unsigned char *)data, len);
}
