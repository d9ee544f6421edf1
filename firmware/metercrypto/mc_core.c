// metercrypto core algorithms. See mc_core.h for the contract.
//
// AES uses one 1 KiB forward and one 1 KiB inverse round table (rotated per row) plus the 256-byte
// inverse S-box: 2.3 KiB of const data, versus 8+ KiB for the classic four-table layout. The
// forward S-box is byte 1 of the forward table entry. Tables are indexed by secret-dependent
// bytes, so on CPUs with a data cache this AES is not constant-time (same as mbedTLS's default);
// on cache-less MCUs with tables in zero-wait-state memory it is. See README.md.
#include "mc_core.h"
#include "mc_tables.h"

#define MC_NOINLINE __attribute__((noinline))

#define ROL8(x) (((x) << 8) | ((x) >> 24))
#define ROL16(x) (((x) << 16) | ((x) >> 16))
#define ROL24(x) (((x) << 24) | ((x) >> 8))

static inline uint32_t ld_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void st_le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t ld_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void st_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void mc_wipe(void *p, size_t n) {
    // Volatile stores cannot be elided as dead. Word stores for the aligned bulk (key schedules
    // are uint32_t arrays): a 244-byte schedule costs ~65 stores instead of 244.
    volatile uint8_t *v = (volatile uint8_t *)p;
    while (n > 0 && ((uintptr_t)v & 3) != 0) {
        *v++ = 0;
        n--;
    }
    volatile uint32_t *w = (volatile uint32_t *)(void *)v;
    for (; n >= 4; n -= 4) {
        *w++ = 0;
    }
    v = (volatile uint8_t *)w;
    while (n--) {
        *v++ = 0;
    }
}

int mc_ct_equal(const uint8_t *a, const uint8_t *b, size_t n) {
    volatile uint32_t d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= (uint32_t)(a[i] ^ b[i]);
    }
    // d is 0..255: (d - 1) >> 8 has bit 0 set only for d == 0.
    return (int)(((d - 1) >> 8) & 1);
}

/******************************************************************************/
// AES

#define SB(x) ((uint32_t)(uint8_t)(mc_te[(x)] >> 8))

static uint32_t sub_word(uint32_t w) {
    return SB(w & 0xff) | SB((w >> 8) & 0xff) << 8 | SB((w >> 16) & 0xff) << 16 | SB(w >> 24) << 24;
}

int mc_aes_setkey_enc(mc_aes_t *ctx, const uint8_t *key, size_t keylen) {
    uint32_t nk, nr;
    if (keylen == 16) {
        nk = 4;
        nr = 10;
    } else if (keylen == 24) {
        nk = 6;
        nr = 12;
    } else if (keylen == 32) {
        nk = 8;
        nr = 14;
    } else {
        return -1;
    }
    uint32_t *w = ctx->rk;
    for (uint32_t i = 0; i < nk; i++) {
        w[i] = ld_le32(key + 4 * i);
    }
    uint32_t total = 4 * (nr + 1);
    uint32_t rcon = 1;
    uint32_t j = 0; // i mod nk, without a division (armv6m has none)
    for (uint32_t i = nk; i < total; i++) {
        uint32_t t = w[i - 1];
        if (j == 0) {
            // RotWord on a little-endian word is a right rotation by 8.
            t = sub_word((t >> 8) | (t << 24)) ^ rcon;
            rcon = ((rcon << 1) ^ ((rcon & 0x80) ? 0x1b : 0)) & 0xff;
        } else if (nk == 8 && j == 4) {
            t = sub_word(t);
        }
        w[i] = w[i - nk] ^ t;
        if (++j == nk) {
            j = 0;
        }
    }
    ctx->nr = nr;
    return 0;
}

static uint32_t inv_mix_column(uint32_t w) {
    // mc_td[SB(x)] is InvMixColumns applied to a column holding x in row 0.
    return mc_td[SB(w & 0xff)] ^ ROL8(mc_td[SB((w >> 8) & 0xff)])
           ^ ROL16(mc_td[SB((w >> 16) & 0xff)]) ^ ROL24(mc_td[SB(w >> 24)]);
}

int mc_aes_setkey_dec(mc_aes_t *ctx, const uint8_t *key, size_t keylen) {
    if (mc_aes_setkey_enc(ctx, key, keylen) != 0) {
        return -1;
    }
    // Equivalent inverse cipher (FIPS-197 5.3.5): reverse the round keys and apply
    // InvMixColumns to all but the first and last.
    uint32_t *rk = ctx->rk;
    for (uint32_t i = 0, j = 4 * ctx->nr; i < j; i += 4, j -= 4) {
        for (uint32_t k = 0; k < 4; k++) {
            uint32_t t = rk[i + k];
            rk[i + k] = rk[j + k];
            rk[j + k] = t;
        }
    }
    for (uint32_t i = 4; i < 4 * ctx->nr; i++) {
        rk[i] = inv_mix_column(rk[i]);
    }
    return 0;
}

// Encrypt 4 little-endian column words in place.
static void aes_enc4(const mc_aes_t *ctx, uint32_t *st) {
    const uint32_t *rk = ctx->rk;
    uint32_t s0 = st[0] ^ rk[0], s1 = st[1] ^ rk[1], s2 = st[2] ^ rk[2], s3 = st[3] ^ rk[3];
    uint32_t t0, t1, t2, t3;
    for (uint32_t r = ctx->nr - 1; r > 0; r--) {
        rk += 4;
        t0 = mc_te[s0 & 0xff] ^ ROL8(mc_te[(s1 >> 8) & 0xff]) ^ ROL16(mc_te[(s2 >> 16) & 0xff])
             ^ ROL24(mc_te[s3 >> 24]) ^ rk[0];
        t1 = mc_te[s1 & 0xff] ^ ROL8(mc_te[(s2 >> 8) & 0xff]) ^ ROL16(mc_te[(s3 >> 16) & 0xff])
             ^ ROL24(mc_te[s0 >> 24]) ^ rk[1];
        t2 = mc_te[s2 & 0xff] ^ ROL8(mc_te[(s3 >> 8) & 0xff]) ^ ROL16(mc_te[(s0 >> 16) & 0xff])
             ^ ROL24(mc_te[s1 >> 24]) ^ rk[2];
        t3 = mc_te[s3 & 0xff] ^ ROL8(mc_te[(s0 >> 8) & 0xff]) ^ ROL16(mc_te[(s1 >> 16) & 0xff])
             ^ ROL24(mc_te[s2 >> 24]) ^ rk[3];
        s0 = t0;
        s1 = t1;
        s2 = t2;
        s3 = t3;
    }
    rk += 4;
    st[0] = (SB(s0 & 0xff) | SB((s1 >> 8) & 0xff) << 8 | SB((s2 >> 16) & 0xff) << 16 | SB(s3 >> 24) << 24) ^ rk[0];
    st[1] = (SB(s1 & 0xff) | SB((s2 >> 8) & 0xff) << 8 | SB((s3 >> 16) & 0xff) << 16 | SB(s0 >> 24) << 24) ^ rk[1];
    st[2] = (SB(s2 & 0xff) | SB((s3 >> 8) & 0xff) << 8 | SB((s0 >> 16) & 0xff) << 16 | SB(s1 >> 24) << 24) ^ rk[2];
    st[3] = (SB(s3 & 0xff) | SB((s0 >> 8) & 0xff) << 8 | SB((s1 >> 16) & 0xff) << 16 | SB(s2 >> 24) << 24) ^ rk[3];
}

#define ISB(x) ((uint32_t)mc_inv_sbox[(x)])

// Decrypt 4 little-endian column words in place (decryption key schedule).
static void aes_dec4(const mc_aes_t *ctx, uint32_t *st) {
    const uint32_t *rk = ctx->rk;
    uint32_t s0 = st[0] ^ rk[0], s1 = st[1] ^ rk[1], s2 = st[2] ^ rk[2], s3 = st[3] ^ rk[3];
    uint32_t t0, t1, t2, t3;
    for (uint32_t r = ctx->nr - 1; r > 0; r--) {
        rk += 4;
        t0 = mc_td[s0 & 0xff] ^ ROL8(mc_td[(s3 >> 8) & 0xff]) ^ ROL16(mc_td[(s2 >> 16) & 0xff])
             ^ ROL24(mc_td[s1 >> 24]) ^ rk[0];
        t1 = mc_td[s1 & 0xff] ^ ROL8(mc_td[(s0 >> 8) & 0xff]) ^ ROL16(mc_td[(s3 >> 16) & 0xff])
             ^ ROL24(mc_td[s2 >> 24]) ^ rk[1];
        t2 = mc_td[s2 & 0xff] ^ ROL8(mc_td[(s1 >> 8) & 0xff]) ^ ROL16(mc_td[(s0 >> 16) & 0xff])
             ^ ROL24(mc_td[s3 >> 24]) ^ rk[2];
        t3 = mc_td[s3 & 0xff] ^ ROL8(mc_td[(s2 >> 8) & 0xff]) ^ ROL16(mc_td[(s1 >> 16) & 0xff])
             ^ ROL24(mc_td[s0 >> 24]) ^ rk[3];
        s0 = t0;
        s1 = t1;
        s2 = t2;
        s3 = t3;
    }
    rk += 4;
    st[0] = (ISB(s0 & 0xff) | ISB((s3 >> 8) & 0xff) << 8 | ISB((s2 >> 16) & 0xff) << 16 | ISB(s1 >> 24) << 24) ^ rk[0];
    st[1] = (ISB(s1 & 0xff) | ISB((s0 >> 8) & 0xff) << 8 | ISB((s3 >> 16) & 0xff) << 16 | ISB(s2 >> 24) << 24) ^ rk[1];
    st[2] = (ISB(s2 & 0xff) | ISB((s1 >> 8) & 0xff) << 8 | ISB((s0 >> 16) & 0xff) << 16 | ISB(s3 >> 24) << 24) ^ rk[2];
    st[3] = (ISB(s3 & 0xff) | ISB((s2 >> 8) & 0xff) << 8 | ISB((s1 >> 16) & 0xff) << 16 | ISB(s0 >> 24) << 24) ^ rk[3];
}

static inline void load4(uint32_t *w, const uint8_t *p) {
    w[0] = ld_le32(p);
    w[1] = ld_le32(p + 4);
    w[2] = ld_le32(p + 8);
    w[3] = ld_le32(p + 12);
}

static inline void store4(uint8_t *p, const uint32_t *w) {
    st_le32(p, w[0]);
    st_le32(p + 4, w[1]);
    st_le32(p + 8, w[2]);
    st_le32(p + 12, w[3]);
}

void mc_aes_encrypt_block(const mc_aes_t *ctx, const uint8_t in[16], uint8_t out[16]) {
    uint32_t s[4];
    load4(s, in);
    aes_enc4(ctx, s);
    store4(out, s);
}

void mc_aes_decrypt_block(const mc_aes_t *ctx, const uint8_t in[16], uint8_t out[16]) {
    uint32_t s[4];
    load4(s, in);
    aes_dec4(ctx, s);
    store4(out, s);
}

void mc_ecb_encrypt(const mc_aes_t *enc, const uint8_t *src, uint8_t *dst, size_t len) {
    uint32_t s[4];
    for (; len >= 16; len -= 16, src += 16, dst += 16) {
        load4(s, src);
        aes_enc4(enc, s);
        store4(dst, s);
    }
}

void mc_ecb_decrypt(const mc_aes_t *dec, const uint8_t *src, uint8_t *dst, size_t len) {
    uint32_t s[4];
    for (; len >= 16; len -= 16, src += 16, dst += 16) {
        load4(s, src);
        aes_dec4(dec, s);
        store4(dst, s);
    }
}

void mc_cbc_encrypt(const mc_aes_t *enc, const uint8_t iv[16], const uint8_t *src, uint8_t *dst, size_t len) {
    uint32_t c[4], p[4];
    load4(c, iv);
    for (; len >= 16; len -= 16, src += 16, dst += 16) {
        load4(p, src);
        c[0] ^= p[0];
        c[1] ^= p[1];
        c[2] ^= p[2];
        c[3] ^= p[3];
        aes_enc4(enc, c);
        store4(dst, c);
    }
}

void mc_cbc_decrypt(const mc_aes_t *dec, const uint8_t iv[16], const uint8_t *src, uint8_t *dst, size_t len) {
    uint32_t prev[4], c[4], s[4];
    load4(prev, iv);
    for (; len >= 16; len -= 16, src += 16, dst += 16) {
        load4(c, src); // read the whole block before dst (maybe == src) is written
        s[0] = c[0];
        s[1] = c[1];
        s[2] = c[2];
        s[3] = c[3];
        aes_dec4(dec, s);
        s[0] ^= prev[0];
        s[1] ^= prev[1];
        s[2] ^= prev[2];
        s[3] ^= prev[3];
        store4(dst, s);
        prev[0] = c[0];
        prev[1] = c[1];
        prev[2] = c[2];
        prev[3] = c[3];
    }
}

// XOR n (<= 16) bytes of keystream words into dst.
static void xor_keystream(uint8_t *dst, const uint8_t *src, const uint32_t *ks, size_t n) {
    if (n == 16) {
        st_le32(dst, ld_le32(src) ^ ks[0]);
        st_le32(dst + 4, ld_le32(src + 4) ^ ks[1]);
        st_le32(dst + 8, ld_le32(src + 8) ^ ks[2]);
        st_le32(dst + 12, ld_le32(src + 12) ^ ks[3]);
    } else {
        for (size_t i = 0; i < n; i++) {
            dst[i] = src[i] ^ (uint8_t)(ks[i >> 2] >> (8 * (i & 3)));
        }
    }
}

void mc_ctr_crypt(const mc_aes_t *enc, const uint8_t nonce[16], const uint8_t *src, uint8_t *dst, size_t len) {
    uint8_t ctr[16];
    uint32_t ks[4];
    for (int i = 0; i < 16; i++) {
        ctr[i] = nonce[i];
    }
    while (len > 0) {
        size_t n = len < 16 ? len : 16;
        load4(ks, ctr);
        aes_enc4(enc, ks);
        xor_keystream(dst, src, ks, n);
        src += n;
        dst += n;
        len -= n;
        // 128-bit big-endian increment (wraps at 2^128).
        for (int i = 15; i >= 0; i--) {
            if (++ctr[i] != 0) {
                break;
            }
        }
    }
    mc_wipe(ks, sizeof(ks));
}

// Doubling in GF(2^128) for CMAC subkeys (big-endian bit order, R = 0x87).
static void cmac_dbl(uint8_t b[16]) {
    uint8_t carry = b[0] >> 7;
    for (int i = 0; i < 15; i++) {
        b[i] = (uint8_t)((b[i] << 1) | (b[i + 1] >> 7));
    }
    b[15] = (uint8_t)((b[15] << 1) ^ (0x87 & (0u - carry)));
}

void mc_cmac(const mc_aes_t *enc, const uint8_t *data, size_t len, uint8_t mac[16]) {
    uint8_t k[16], last[16];
    uint32_t x[4] = {0, 0, 0, 0}, m[4];
    for (int i = 0; i < 16; i++) {
        k[i] = 0;
    }
    mc_aes_encrypt_block(enc, k, k); // L
    cmac_dbl(k);                     // K1
    while (len > 16) {
        load4(m, data);
        x[0] ^= m[0];
        x[1] ^= m[1];
        x[2] ^= m[2];
        x[3] ^= m[3];
        aes_enc4(enc, x);
        data += 16;
        len -= 16;
    }
    if (len == 16) {
        for (int i = 0; i < 16; i++) {
            last[i] = data[i] ^ k[i];
        }
    } else {
        cmac_dbl(k); // K2
        for (size_t i = 0; i < 16; i++) {
            uint8_t v = i < len ? data[i] : (i == len ? 0x80 : 0);
            last[i] = v ^ k[i];
        }
    }
    load4(m, last);
    x[0] ^= m[0];
    x[1] ^= m[1];
    x[2] ^= m[2];
    x[3] ^= m[3];
    aes_enc4(enc, x);
    store4(mac, x);
    mc_wipe(k, sizeof(k));
    mc_wipe(last, sizeof(last));
}

/******************************************************************************/
// DES (FIPS 46-3). Compact rather than fast (an STS token is one block): the standard's bit
// permutations are table-driven over 32-bit halves and the S-boxes are packed two entries per
// byte (256 bytes, instead of 2 KiB of combined S-box/P tables). E needs no table: group j of
// E(R) is bits 4j..4j+5 of R, where bit 0 means bit 32, i.e. the top 6 bits of R rotated.

// Bit pos (1-based, MSB first, as in the standard's tables) of the 64-bit value hi:lo.
static inline uint32_t des_bit(uint32_t hi, uint32_t lo, uint32_t pos) {
    return pos <= 32 ? (hi >> (32 - pos)) & 1 : (lo >> (64 - pos)) & 1;
}

// The n (<= 32) bits of hi:lo named by tab[0..n-1], the first one most significant.
static uint32_t des_perm(uint32_t hi, uint32_t lo, const uint8_t *tab, uint32_t n) {
    uint32_t v = 0;
    for (uint32_t i = 0; i < n; i++) {
        v = (v << 1) | des_bit(hi, lo, tab[i]);
    }
    return v;
}

void mc_des_setkey(mc_des_t *ks, const uint8_t key[8]) {
    uint32_t hi = ld_be32(key), lo = ld_be32(key + 4);
    // PC-1 skips bits 8, 16, ..., 64: the parity bits are ignored.
    uint32_t c = des_perm(hi, lo, mc_des_pc1, 28), d = des_perm(hi, lo, mc_des_pc1 + 28, 28);
    for (uint32_t r = 0; r < 16; r++) {
        // Left shifts per round: 1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1 (bit r of 0x7efc set: 2).
        uint32_t s = ((0x7efcu >> r) & 1) + 1;
        c = ((c << s) | (c >> (28 - s))) & 0x0fffffff;
        d = ((d << s) | (d >> (28 - s))) & 0x0fffffff;
        // PC-2 positions 1..28 name bits of C, 29..56 bits of D.
        uint32_t h = (c << 4) | (d >> 24), l = d << 8;
        for (uint32_t j = 0; j < 8; j++) {
            ks->k[r][j] = (uint8_t)des_perm(h, l, mc_des_pc2 + 6 * j, 6);
        }
    }
}

// The cipher function f(R, K) (FIPS 46-3, figure 2).
static uint32_t des_f(uint32_t r, const uint8_t *k) {
    uint32_t e = (r >> 1) | (r << 31); // bits 32, 1, 2, ..., 31 from the top
    uint32_t s = 0;
    for (uint32_t j = 0; j < 8; j++) {
        uint32_t x = (e >> 26) ^ k[j];
        s |= ((uint32_t)(mc_des_sbox[32 * j + (x >> 1)] >> ((x & 1) << 2)) & 0xf) << (28 - 4 * j);
        e = (e << 4) | (e >> 28);
    }
    return des_perm(s, 0, mc_des_p, 32);
}

void mc_des_ecb(const mc_des_t *ks, int decrypt, const uint8_t *src, uint8_t *dst, size_t len) {
    for (; len >= 8; len -= 8, src += 8, dst += 8) {
        uint32_t hi = ld_be32(src), lo = ld_be32(src + 4);
        uint32_t l = des_perm(hi, lo, mc_des_ip, 32), r = des_perm(hi, lo, mc_des_ip + 32, 32);
        for (uint32_t i = 0; i < 16; i++) {
            uint32_t t = r;
            r = l ^ des_f(r, ks->k[decrypt ? 15 - i : i]); // decryption: keys in reverse order
            l = t;
        }
        // The pre-output is R16 L16; then IP^-1.
        st_be32(dst, des_perm(r, l, mc_des_fp, 32));
        st_be32(dst + 4, des_perm(r, l, mc_des_fp + 32, 32));
    }
}

/******************************************************************************/
// MISTY1 (RFC 2994), 8 rounds. Function and index names follow the RFC; "% 8" is "& 7".

static inline uint32_t misty_s9(uint32_t x) {
    return mc_misty_s9lo[x] | ((uint32_t)(mc_misty_s9hi[x >> 3] >> (x & 7)) & 1) << 8;
}

// FI (RFC 2994 2.3): the key's top 7 bits and low 9 bits are RFC 2994's EK[i+24] and EK[i+16].
static uint32_t misty_fi(uint32_t in, uint32_t key) {
    uint32_t d9 = in >> 7, d7 = in & 0x7f;
    d9 = misty_s9(d9) ^ d7;
    d7 = (mc_misty_s7[d7] ^ d9) & 0x7f;
    d7 ^= key >> 9;
    d9 ^= key & 0x1ff;
    d9 = misty_s9(d9) ^ d7;
    return (d7 << 9) | d9;
}

static uint32_t misty_fo(const uint16_t *ek, uint32_t in, uint32_t k) {
    uint32_t t0 = in >> 16, t1 = in & 0xffff;
    t0 ^= ek[k];
    t0 = misty_fi(t0, ek[((k + 5) & 7) + 8]);
    t0 ^= t1;
    t1 ^= ek[(k + 2) & 7];
    t1 = misty_fi(t1, ek[((k + 1) & 7) + 8]);
    t1 ^= t0;
    t0 ^= ek[(k + 7) & 7];
    t0 = misty_fi(t0, ek[((k + 3) & 7) + 8]);
    t0 ^= t1;
    t1 ^= ek[(k + 4) & 7];
    return (t1 << 16) | t0;
}

// FL (inv = 0) and FL^-1 (inv = 1).
static uint32_t misty_fl(const uint16_t *ek, uint32_t in, uint32_t k, int inv) {
    uint32_t d0 = in >> 16, d1 = in & 0xffff, ka, ko;
    uint32_t h = k >> 1;
    if ((k & 1) == 0) {
        ka = ek[h];
        ko = ek[((h + 6) & 7) + 8];
    } else {
        ka = ek[((h + 2) & 7) + 8];
        ko = ek[(h + 4) & 7];
    }
    if (!inv) {
        d1 ^= d0 & ka;
        d0 ^= d1 | ko;
    } else {
        d0 ^= d1 | ko;
        d1 ^= d0 & ka;
    }
    return (d0 << 16) | d1;
}

void mc_misty1_setkey(mc_misty1_t *ks, const uint8_t key[16]) {
    for (uint32_t i = 0; i < 8; i++) {
        ks->ek[i] = (uint16_t)(key[2 * i] << 8 | key[2 * i + 1]);
    }
    for (uint32_t i = 0; i < 8; i++) {
        ks->ek[i + 8] = (uint16_t)misty_fi(ks->ek[i], ks->ek[(i + 1) & 7]);
    }
}

void mc_misty1_ecb(const mc_misty1_t *ks, int decrypt, const uint8_t *src, uint8_t *dst, size_t len) {
    const uint16_t *ek = ks->ek;
    for (; len >= 8; len -= 8, src += 8, dst += 8) {
        uint32_t d0, d1;
        if (!decrypt) {
            d0 = ld_be32(src);
            d1 = ld_be32(src + 4);
            for (uint32_t i = 0; i < 8; i += 2) {
                d0 = misty_fl(ek, d0, i, 0);
                d1 = misty_fl(ek, d1, i + 1, 0);
                d1 ^= misty_fo(ek, d0, i);
                d0 ^= misty_fo(ek, d1, i + 1);
            }
            d0 = misty_fl(ek, d0, 8, 0);
            d1 = misty_fl(ek, d1, 9, 0);
            st_be32(dst, d1); // the ciphertext is D1 || D0
            st_be32(dst + 4, d0);
        } else {
            d1 = ld_be32(src);
            d0 = ld_be32(src + 4);
            d0 = misty_fl(ek, d0, 8, 1);
            d1 = misty_fl(ek, d1, 9, 1);
            for (uint32_t i = 8; i > 0; i -= 2) {
                d0 ^= misty_fo(ek, d1, i - 1);
                d1 ^= misty_fo(ek, d0, i - 2);
                d0 = misty_fl(ek, d0, i - 2, 1);
                d1 = misty_fl(ek, d1, i - 1, 1);
            }
            st_be32(dst, d0);
            st_be32(dst + 4, d1);
        }
    }
}

/******************************************************************************/
// GCM

// v = v * x in GCM's bit order (a right shift of the big-endian 128-bit value).
static void gf_mulx(uint32_t *v) {
    uint32_t carry = v[3] & 1;
    v[3] = (v[3] >> 1) | (v[2] << 31);
    v[2] = (v[2] >> 1) | (v[1] << 31);
    v[1] = (v[1] >> 1) | (v[0] << 31);
    v[0] = (v[0] >> 1) ^ (0xE1000000u & (0u - carry));
}

// x = x * H using the 4-bit table (Shoup's method), Horner from the highest-degree nibble.
static void ghash_mul(const mc_gcm_t *g, uint8_t x[16]) {
    uint32_t z0 = 0, z1 = 0, z2 = 0, z3 = 0;
    for (int i = 15; i >= 0; i--) {
        uint32_t b = x[i];
        for (int half = 0; half < 2; half++) {
            uint32_t nib = half ? b >> 4 : b & 0xf;
            uint32_t rem = z3 & 0xf;
            z3 = (z3 >> 4) | (z2 << 28);
            z2 = (z2 >> 4) | (z1 << 28);
            z1 = (z1 >> 4) | (z0 << 28);
            z0 = (z0 >> 4) ^ ((uint32_t)mc_ghash_r4[rem] << 16);
            const uint32_t *e = g->m[nib];
            z0 ^= e[0];
            z1 ^= e[1];
            z2 ^= e[2];
            z3 ^= e[3];
        }
    }
    st_be32(x, z0);
    st_be32(x + 4, z1);
    st_be32(x + 8, z2);
    st_be32(x + 12, z3);
}

// y = GHASH_H(y, data zero-padded to a multiple of 16 bytes).
static void ghash_update(const mc_gcm_t *g, uint8_t y[16], const uint8_t *p, size_t n) {
    while (n > 0) {
        size_t k = n < 16 ? n : 16;
        for (size_t i = 0; i < k; i++) {
            y[i] ^= p[i];
        }
        ghash_mul(g, y);
        p += k;
        n -= k;
    }
}

static void put_bitlen64(uint8_t *p, size_t nbytes) {
    uint64_t bits = (uint64_t)nbytes << 3;
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)bits;
        bits >>= 8;
    }
}

int mc_gcm_init(mc_gcm_t *g, const uint8_t *key, size_t keylen, const uint8_t *iv, size_t ivlen) {
    if (ivlen == 0 || mc_aes_setkey_enc(&g->aes, key, keylen) != 0) {
        return -1;
    }
    uint8_t h[16];
    for (int i = 0; i < 16; i++) {
        h[i] = 0;
    }
    mc_aes_encrypt_block(&g->aes, h, h);
    for (int i = 0; i < 4; i++) {
        g->m[0][i] = 0;
        g->m[8][i] = ld_be32(h + 4 * i);
    }
    for (int i = 4; i > 0; i >>= 1) {
        for (int k = 0; k < 4; k++) {
            g->m[i][k] = g->m[2 * i][k];
        }
        gf_mulx(g->m[i]);
    }
    for (int i = 2; i < 16; i <<= 1) {
        for (int j = 1; j < i; j++) {
            for (int k = 0; k < 4; k++) {
                g->m[i + j][k] = g->m[i][k] ^ g->m[j][k];
            }
        }
    }
    mc_wipe(h, sizeof(h));
    if (ivlen == 12) {
        for (int i = 0; i < 12; i++) {
            g->j0[i] = iv[i];
        }
        g->j0[12] = 0;
        g->j0[13] = 0;
        g->j0[14] = 0;
        g->j0[15] = 1;
    } else {
        uint8_t lb[16];
        for (int i = 0; i < 16; i++) {
            g->j0[i] = 0;
            lb[i] = 0;
        }
        ghash_update(g, g->j0, iv, ivlen);
        put_bitlen64(lb + 8, ivlen);
        ghash_update(g, g->j0, lb, 16);
    }
    return 0;
}

// CTR with inc32 starting from inc32(J0).
static void gcm_ctr(const mc_gcm_t *g, const uint8_t *src, uint8_t *dst, size_t len) {
    uint8_t cb[16];
    uint32_t ks[4];
    for (int i = 0; i < 16; i++) {
        cb[i] = g->j0[i];
    }
    uint32_t c = ld_be32(cb + 12);
    while (len > 0) {
        size_t n = len < 16 ? len : 16;
        st_be32(cb + 12, ++c);
        load4(ks, cb);
        aes_enc4(&g->aes, ks);
        xor_keystream(dst, src, ks, n);
        src += n;
        dst += n;
        len -= n;
    }
    mc_wipe(ks, sizeof(ks));
}

// Full 16-byte tag over (aad, ciphertext).
static void gcm_tag(const mc_gcm_t *g, const uint8_t *aad, size_t aadlen, const uint8_t *c, size_t len,
    uint8_t s[16]) {
    uint8_t lb[16], ek[16];
    for (int i = 0; i < 16; i++) {
        s[i] = 0;
    }
    ghash_update(g, s, aad, aadlen);
    ghash_update(g, s, c, len);
    put_bitlen64(lb, aadlen);
    put_bitlen64(lb + 8, len);
    ghash_update(g, s, lb, 16);
    mc_aes_encrypt_block(&g->aes, g->j0, ek);
    for (int i = 0; i < 16; i++) {
        s[i] ^= ek[i];
    }
    mc_wipe(ek, sizeof(ek));
}

void mc_gcm_encrypt(const mc_gcm_t *g, const uint8_t *aad, size_t aadlen, const uint8_t *src, uint8_t *dst,
    size_t len, uint8_t *tag, size_t taglen) {
    uint8_t s[16];
    gcm_ctr(g, src, dst, len);
    gcm_tag(g, aad, aadlen, dst, len, s);
    for (size_t i = 0; i < taglen && i < 16; i++) {
        tag[i] = s[i];
    }
    mc_wipe(s, sizeof(s));
}

int mc_gcm_decrypt(const mc_gcm_t *g, const uint8_t *aad, size_t aadlen, const uint8_t *src, uint8_t *dst,
    size_t len, const uint8_t *tag, size_t taglen) {
    uint8_t s[16];
    if (taglen < 4 || taglen > 16) {
        return -1; // never accept an empty (always-matching) or over-long tag
    }
    gcm_tag(g, aad, aadlen, src, len, s);
    int ok = mc_ct_equal(s, tag, taglen);
    mc_wipe(s, sizeof(s));
    if (!ok) {
        return -1;
    }
    gcm_ctr(g, src, dst, len);
    return 0;
}

/******************************************************************************/
// SHA-256 (FIPS 180-4), 16-word rolling message schedule.

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t *hs, const uint8_t *p) {
    uint32_t w[16];
    uint32_t a = hs[0], b = hs[1], c = hs[2], d = hs[3], e = hs[4], f = hs[5], g = hs[6], h = hs[7];
    for (uint32_t i = 0; i < 64; i++) {
        uint32_t wi;
        if (i < 16) {
            wi = w[i] = ld_be32(p + 4 * i);
        } else {
            uint32_t x2 = w[(i - 2) & 15], x15 = w[(i - 15) & 15];
            uint32_t s1 = ROR(x2, 17) ^ ROR(x2, 19) ^ (x2 >> 10);
            uint32_t s0 = ROR(x15, 7) ^ ROR(x15, 18) ^ (x15 >> 3);
            wi = w[i & 15] += s1 + w[(i - 7) & 15] + s0;
        }
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + mc_sha256_k[i] + wi;
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    hs[0] += a;
    hs[1] += b;
    hs[2] += c;
    hs[3] += d;
    hs[4] += e;
    hs[5] += f;
    hs[6] += g;
    hs[7] += h;
    mc_wipe(w, sizeof(w));
}

// SHA-512 (FIPS 180-4 6.4). 64-bit words with additions and constant shifts only: every target
// compiles these inline (a variable 64-bit shift would call libgcc, which a natmod cannot).

#define ROR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

static inline uint64_t ld_be64(const uint8_t *p) {
    return (uint64_t)ld_be32(p) << 32 | ld_be32(p + 4);
}

static void sha512_block(uint64_t *hs, const uint8_t *p) {
    uint64_t w[16];
    uint64_t a = hs[0], b = hs[1], c = hs[2], d = hs[3], e = hs[4], f = hs[5], g = hs[6], h = hs[7];
    for (uint32_t i = 0; i < 80; i++) {
        uint64_t wi;
        if (i < 16) {
            wi = w[i] = ld_be64(p + 8 * i);
        } else {
            uint64_t x2 = w[(i - 2) & 15], x15 = w[(i - 15) & 15];
            uint64_t s1 = ROR64(x2, 19) ^ ROR64(x2, 61) ^ (x2 >> 6);
            uint64_t s0 = ROR64(x15, 1) ^ ROR64(x15, 8) ^ (x15 >> 7);
            wi = w[i & 15] += s1 + w[(i - 7) & 15] + s0;
        }
        uint64_t t1 = h + (ROR64(e, 14) ^ ROR64(e, 18) ^ ROR64(e, 41)) + ((e & f) ^ (~e & g)) + mc_sha512_k[i] + wi;
        uint64_t t2 = (ROR64(a, 28) ^ ROR64(a, 34) ^ ROR64(a, 39)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    hs[0] += a;
    hs[1] += b;
    hs[2] += c;
    hs[3] += d;
    hs[4] += e;
    hs[5] += f;
    hs[6] += g;
    hs[7] += h;
    mc_wipe(w, sizeof(w));
}

// Buffering and padding shared by SHA-256 (64-byte blocks) and SHA-512 (128-byte blocks).
static void sha_compress(void *hs, const uint8_t *p, uint32_t bs) {
    if (bs == 128) {
        sha512_block((uint64_t *)hs, p);
    } else {
        sha256_block((uint32_t *)hs, p);
    }
}

static void sha_update(void *hs, uint8_t *buf, uint32_t *nbuf, uint32_t bs, const uint8_t *data, size_t len) {
    if (*nbuf > 0) {
        while (len > 0 && *nbuf < bs) {
            buf[(*nbuf)++] = *data++;
            len--;
        }
        if (*nbuf < bs) {
            return;
        }
        sha_compress(hs, buf, bs);
        *nbuf = 0;
    }
    for (; len >= bs; len -= bs, data += bs) {
        sha_compress(hs, data, bs);
    }
    while (len-- > 0) {
        buf[(*nbuf)++] = *data++;
    }
}

// 0x80, zeros, and the message length in bits, big-endian, in the last 8 bytes (SHA-512's
// 16-byte length field: its high half is zero, as no message here reaches 2^64 bits).
static void sha_pad(void *hs, uint8_t *buf, uint32_t nbuf, uint32_t bs, uint64_t total) {
    uint64_t bits = total << 3;
    buf[nbuf++] = 0x80;
    if (nbuf > bs - bs / 8) {
        while (nbuf < bs) {
            buf[nbuf++] = 0;
        }
        sha_compress(hs, buf, bs);
        nbuf = 0;
    }
    while (nbuf < bs - 8) {
        buf[nbuf++] = 0;
    }
    for (uint32_t i = bs - 1; i >= bs - 8; i--) {
        buf[i] = (uint8_t)bits;
        bits >>= 8;
    }
    sha_compress(hs, buf, bs);
}

void mc_sha512_init(mc_sha512_t *s) {
    for (int i = 0; i < 8; i++) {
        s->h[i] = mc_sha512_iv[i];
    }
    s->nbuf = 0;
    s->total = 0;
}

void mc_sha512_update(mc_sha512_t *s, const uint8_t *data, size_t len) {
    s->total += len;
    sha_update(s->h, s->buf, &s->nbuf, 128, data, len);
}

void mc_sha512_final(mc_sha512_t *s, uint8_t out[64]) {
    sha_pad(s->h, s->buf, s->nbuf, 128, s->total);
    for (int i = 0; i < 8; i++) {
        st_be32(out + 8 * i, (uint32_t)(s->h[i] >> 32));
        st_be32(out + 8 * i + 4, (uint32_t)s->h[i]);
    }
    mc_wipe(s, sizeof(*s));
}

void mc_sha512(const uint8_t *data, size_t len, uint8_t out[64]) {
    mc_sha512_t s;
    mc_sha512_init(&s);
    mc_sha512_update(&s, data, len);
    mc_sha512_final(&s, out);
}

void mc_sha256_init(mc_sha256_t *s) {
    static const uint32_t iv[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    for (int i = 0; i < 8; i++) {
        s->h[i] = iv[i];
    }
    s->nbuf = 0;
    s->total = 0;
}

void mc_sha256_update(mc_sha256_t *s, const uint8_t *data, size_t len) {
    s->total += len;
    sha_update(s->h, s->buf, &s->nbuf, 64, data, len);
}

void mc_sha256_final(mc_sha256_t *s, uint8_t out[32]) {
    sha_pad(s->h, s->buf, s->nbuf, 64, s->total);
    for (int i = 0; i < 8; i++) {
        st_be32(out + 4 * i, s->h[i]);
    }
    mc_wipe(s, sizeof(*s));
}

void mc_sha256(const uint8_t *data, size_t len, uint8_t out[32]) {
    mc_sha256_t s;
    mc_sha256_init(&s);
    mc_sha256_update(&s, data, len);
    mc_sha256_final(&s, out);
}

void mc_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *data, size_t len, uint8_t out[32]) {
    uint8_t kb[64];
    uint8_t ih[32];
    mc_sha256_t s;
    size_t i = 0;
    if (keylen > 64) {
        mc_sha256(key, keylen, kb);
        i = 32;
    } else {
        for (; i < keylen; i++) {
            kb[i] = key[i];
        }
    }
    for (; i < 64; i++) {
        kb[i] = 0;
    }
    for (i = 0; i < 64; i++) {
        kb[i] ^= 0x36;
    }
    mc_sha256_init(&s);
    mc_sha256_update(&s, kb, 64);
    mc_sha256_update(&s, data, len);
    mc_sha256_final(&s, ih);
    for (i = 0; i < 64; i++) {
        kb[i] ^= 0x36 ^ 0x5c;
    }
    mc_sha256_init(&s);
    mc_sha256_update(&s, kb, 64);
    mc_sha256_update(&s, ih, 32);
    mc_sha256_final(&s, out);
    mc_wipe(kb, sizeof(kb));
    mc_wipe(ih, sizeof(ih));
}

/******************************************************************************/
// Ed25519 signature verification (RFC 8032 5.1). Only public data passes through here, so
// nothing is constant-time and nothing is wiped.
//
// Field elements mod p = 2^255 - 19: 10 unsigned limbs of 26, 25, 26, 25, ... bits (radix
// 2^25.5; limb i starts at bit ceil(25.5 i)). After every operation the limbs are "loose":
// limb 0 < 2^26 + 2^8, limb 1 < 2^25 + 2^15, the others within their width. Points: extended
// coordinates (X:Y:Z:T) with x = X/Z, y = Y/Z, xy = T/Z, as 40 limbs X, Y, Z, T.

typedef uint32_t fe[10];
typedef uint32_t ge[40];
#define GX(p) (p)
#define GY(p) ((p) + 10)
#define GZ(p) ((p) + 20)
#define GT(p) ((p) + 30)

// 32x32 -> 64-bit product. Cortex-M0 has no such instruction and GCC would call libgcc's
// __aeabi_lmul, which a natmod does not link: there it is four 16x16 -> 32-bit multiplies.
static inline uint64_t mul32(uint32_t a, uint32_t b) {
    #if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
    uint32_t al = a & 0xffff, ah = a >> 16, bl = b & 0xffff, bh = b >> 16;
    uint32_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint32_t mid = (ll >> 16) + (lh & 0xffff) + (hl & 0xffff);
    return (uint64_t)(hh + (lh >> 16) + (hl >> 16) + (mid >> 16)) << 32 | ((ll & 0xffff) | mid << 16);
    #else
    return (uint64_t)a * b;
    #endif
}

static void fe_copy(fe h, const uint32_t *f) {
    for (int i = 0; i < 10; i++) {
        h[i] = f[i];
    }
}

static void fe_set(fe h, uint32_t v) {
    for (int i = 0; i < 10; i++) {
        h[i] = i == 0 ? v : 0;
    }
}

// One carry pass over limbs < 2^28: every limb within its width, limb 0 below 2^26 + 2^8.
static void fe_carry(fe h) {
    for (int i = 0; i < 10; i += 2) {
        uint32_t c = h[i] >> 26;
        h[i] &= 0x3ffffff;
        h[i + 1] += c;
        c = h[i + 1] >> 25;
        h[i + 1] &= 0x1ffffff;
        if (i < 8) {
            h[i + 2] += c;
        } else {
            h[0] += 19 * c; // 2^255 = 19 (mod p)
        }
    }
}

static void fe_add(fe h, const uint32_t *f, const uint32_t *g) {
    for (int i = 0; i < 10; i++) {
        h[i] = f[i] + g[i];
    }
    fe_carry(h);
}

// h = f - g, computed as f + 2p - g so no limb goes negative (2p's limbs exceed any loose limb).
static void fe_sub(fe h, const uint32_t *f, const uint32_t *g) {
    for (int i = 0; i < 10; i++) {
        uint32_t twop = i == 0 ? 0x7ffffda : (i & 1) ? 0x3fffffe : 0x7fffffe;
        h[i] = f[i] + twop - g[i];
    }
    fe_carry(h);
}

static void fe_neg(fe h, const uint32_t *f) {
    fe z;
    fe_set(z, 0);
    fe_sub(h, z, f);
}

// Schoolbook product with the reduction folded in: limb pair (i, j) lands on limb i + j, times 2
// when both are odd (their positions round up twice), times 19 when i + j >= 10 (2^255 = 19).
// Column k is sum_i f_i g'_{k-i} over gx, where g'_n = g_n and g'_{-m} = 19 g_{10-m}: no branch
// in the inner loop. Loose inputs keep every column below 2^61. h may alias f or g.
static void fe_mul(fe h, const uint32_t *f, const uint32_t *g) {
    uint64_t t[10];
    uint32_t gx[19], f2[10];
    for (int i = 0; i < 10; i++) {
        gx[9 + i] = g[i];
        f2[i] = (i & 1) ? 2 * f[i] : f[i];
    }
    for (int i = 1; i < 10; i++) {
        gx[i - 1] = 19 * g[i];
    }
    for (int k = 0; k < 10; k++) {
        const uint32_t *fo = (k & 1) ? f : f2; // odd i meets odd j only in even columns
        const uint32_t *gk = gx + 9 + k;       // gk[-i] = g'_{k-i}
        uint64_t acc = 0;
        for (int i = 0; i < 10; i += 2) {
            acc += mul32(f[i], gk[-i]) + mul32(fo[i + 1], gk[-i - 1]);
        }
        t[k] = acc;
    }
    // Carry with constant shifts only (variable 64-bit shifts would call libgcc).
    for (int i = 0; i < 10; i += 2) {
        uint64_t c = t[i] >> 26;
        t[i] &= 0x3ffffff;
        t[i + 1] += c;
        c = t[i + 1] >> 25;
        t[i + 1] &= 0x1ffffff;
        if (i < 8) {
            t[i + 2] += c;
        } else {
            // 19c (c < 2^37) from 32-bit halves: GCC turns 64-bit shift-and-add forms of it into a
            // 64-bit multiply, i.e. a libgcc call on armv6m.
            t[0] += mul32((uint32_t)c, 19) + ((uint64_t)(19 * (uint32_t)(c >> 32)) << 32);
        }
    }
    uint64_t c = t[0] >> 26;
    t[0] &= 0x3ffffff;
    t[1] += c;
    for (int i = 0; i < 10; i++) {
        h[i] = (uint32_t)t[i];
    }
}

static void fe_sq(fe h, const uint32_t *f) {
    fe_mul(h, f, f);
}

// h = f^(2^n).
static void fe_sqn(fe h, const uint32_t *f, int n) {
    fe_sq(h, f);
    while (--n > 0) {
        fe_sq(h, h);
    }
}

// Limb i starts at bit (51 i + 1) / 2; with its width it spans at most 32 bits from a byte
// boundary, so one 32-bit little-endian load or store reaches it.
static uint32_t fe_pos(int i) {
    return (uint32_t)(51 * i + 1) >> 1;
}

// The low 255 bits of s (bit 255, the sign of x in a point encoding, is dropped).
static void fe_frombytes(fe h, const uint8_t s[32]) {
    for (int i = 0; i < 10; i++) {
        uint32_t pos = fe_pos(i);
        h[i] = (ld_le32(s + (pos >> 3)) >> (pos & 7)) & ((i & 1) ? 0x1ffffff : 0x3ffffff);
    }
}

// Canonical encoding: the unique value in [0, p), little-endian.
static void fe_tobytes(uint8_t s[32], const uint32_t *f) {
    fe t;
    fe_copy(t, f);
    // Two full passes: limbs within their widths, value in [0, 2^255).
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 10; i++) {
            uint32_t w = 26 - (i & 1), c = t[i] >> w;
            t[i] &= (1u << w) - 1;
            if (i < 9) {
                t[i + 1] += c;
            } else {
                t[0] += 19 * c;
            }
        }
    }
    // q = 1 exactly when value + 19 >= 2^255, i.e. value >= p: then subtract p (add 19, drop 2^255).
    uint32_t q = (t[0] + 19) >> 26;
    for (int i = 1; i < 10; i++) {
        q = (t[i] + q) >> (26 - (i & 1));
    }
    t[0] += 19 * q;
    for (int i = 0; i < 9; i++) {
        uint32_t w = 26 - (i & 1);
        t[i + 1] += t[i] >> w;
        t[i] &= (1u << w) - 1;
    }
    t[9] &= 0x1ffffff;
    for (int i = 0; i < 32; i++) {
        s[i] = 0;
    }
    for (int i = 0; i < 10; i++) {
        uint32_t pos = fe_pos(i), v = t[i] << (pos & 7);
        for (uint32_t b = 0; b < 4; b++) {
            s[(pos >> 3) + b] |= (uint8_t)(v >> (8 * b));
        }
    }
}

static int fe_iszero(const uint32_t *f) {
    uint8_t s[32];
    uint32_t d = 0;
    fe_tobytes(s, f);
    for (int i = 0; i < 32; i++) {
        d |= s[i];
    }
    return d == 0;
}

static int fe_isodd(const uint32_t *f) {
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

// h = z^(2^252 - 3) = z^((p - 5) / 8), the usual addition chain: 251 squarings, 11 multiplies.
static void fe_pow22523(fe h, const uint32_t *z) {
    fe t0, t1, t2;
    fe_sq(t0, z);           // z^2
    fe_sqn(t1, t0, 2);      // z^8
    fe_mul(t1, t1, z);      // z^9
    fe_mul(t0, t0, t1);     // z^11
    fe_sq(t0, t0);          // z^22
    fe_mul(t0, t1, t0);     // z^(2^5 - 1)
    fe_sqn(t1, t0, 5);
    fe_mul(t0, t1, t0);     // z^(2^10 - 1)
    fe_sqn(t1, t0, 10);
    fe_mul(t1, t1, t0);     // z^(2^20 - 1)
    fe_sqn(t2, t1, 20);
    fe_mul(t1, t2, t1);     // z^(2^40 - 1)
    fe_sqn(t1, t1, 10);
    fe_mul(t0, t1, t0);     // z^(2^50 - 1)
    fe_sqn(t1, t0, 50);
    fe_mul(t1, t1, t0);     // z^(2^100 - 1)
    fe_sqn(t2, t1, 100);
    fe_mul(t1, t2, t1);     // z^(2^200 - 1)
    fe_sqn(t1, t1, 50);
    fe_mul(t0, t1, t0);     // z^(2^250 - 1)
    fe_sqn(t0, t0, 2);      // z^(2^252 - 4)
    fe_mul(h, t0, z);
}

// r = p + q (RFC 8032 5.1.4, "add-2008-hwcd-3"). r may alias p or q.
static void ge_add(ge r, const uint32_t *p, const uint32_t *q) {
    fe a, b, c, d, t;
    fe_sub(a, GY(p), GX(p));
    fe_sub(t, GY(q), GX(q));
    fe_mul(a, a, t);        // A = (Y1 - X1)(Y2 - X2)
    fe_add(b, GY(p), GX(p));
    fe_add(t, GY(q), GX(q));
    fe_mul(b, b, t);        // B = (Y1 + X1)(Y2 + X2)
    fe_mul(c, GT(p), GT(q));
    fe_mul(c, c, mc_ed_d2); // C = T1 2d T2
    fe_mul(d, GZ(p), GZ(q));
    fe_add(d, d, d);        // D = 2 Z1 Z2
    fe_add(t, b, a);        // H = B + A
    fe_sub(a, b, a);        // E = B - A
    fe_sub(b, d, c);        // F = D - C
    fe_add(c, d, c);        // G = D + C
    fe_mul(GX(r), a, b);    // X3 = E F
    fe_mul(GY(r), c, t);    // Y3 = G H
    fe_mul(GT(r), a, t);    // T3 = E H
    fe_mul(GZ(r), b, c);    // Z3 = F G
}

// r = 2p (RFC 8032 5.1.4, "dbl-2008-hwcd"). r may alias p.
static void ge_dbl(ge r, const uint32_t *p) {
    fe a, b, c, h, t;
    fe_sq(a, GX(p));        // A = X1^2
    fe_sq(b, GY(p));        // B = Y1^2
    fe_sq(c, GZ(p));
    fe_add(c, c, c);        // C = 2 Z1^2
    fe_add(h, a, b);        // H = A + B
    fe_add(t, GX(p), GY(p));
    fe_sq(t, t);
    fe_sub(t, h, t);        // E = H - (X1 + Y1)^2
    fe_sub(a, a, b);        // G = A - B
    fe_add(c, c, a);        // F = C + G
    fe_mul(GX(r), t, c);    // X3 = E F
    fe_mul(GY(r), a, h);    // Y3 = G H
    fe_mul(GT(r), t, h);    // T3 = E H
    fe_mul(GZ(r), c, a);    // Z3 = F G
}

// Decoding (RFC 8032 5.1.3) with the strict checks: y < p, a square root exists, and not
// x = 0 with the sign bit set. Returns 0, or -1 for an invalid encoding.
static int ge_decode(ge p, const uint8_t s[32]) {
    fe u, v, v3, vx2;
    uint8_t chk[32];
    fe_frombytes(GY(p), s);
    fe_tobytes(chk, GY(p)); // canonical iff it reproduces the 255 bits (y < p)
    for (int i = 0; i < 32; i++) {
        if (chk[i] != (i == 31 ? s[i] & 0x7f : s[i])) {
            return -1;
        }
    }
    fe_set(GZ(p), 1);
    fe_sq(u, GY(p));
    fe_mul(v, u, mc_ed_d);
    fe_sub(u, u, GZ(p));     // u = y^2 - 1
    fe_add(v, v, GZ(p));     // v = d y^2 + 1
    fe_sq(v3, v);
    fe_mul(v3, v3, v);       // v^3
    fe_sq(GX(p), v3);
    fe_mul(GX(p), GX(p), v);
    fe_mul(GX(p), GX(p), u); // u v^7
    fe_pow22523(GX(p), GX(p));
    fe_mul(GX(p), GX(p), v3);
    fe_mul(GX(p), GX(p), u); // x = u v^3 (u v^7)^((p - 5) / 8)
    fe_sq(vx2, GX(p));
    fe_mul(vx2, vx2, v);
    fe_sub(v3, vx2, u);
    if (!fe_iszero(v3)) {
        fe_add(v3, vx2, u);
        if (!fe_iszero(v3)) {
            return -1; // neither root: (x, y) is not on the curve
        }
        fe_mul(GX(p), GX(p), mc_ed_sqrtm1);
    }
    int sign = s[31] >> 7;
    if (fe_iszero(GX(p)) && sign) {
        return -1;
    }
    if (fe_isodd(GX(p)) != sign) {
        fe_neg(GX(p), GX(p));
    }
    fe_mul(GT(p), GX(p), GY(p));
    return 0;
}

// [8]p is the identity: p is one of the 8 points of small order.
static int ge_is_small(const uint32_t *p) {
    ge q;
    ge_dbl(q, p);
    ge_dbl(q, q);
    ge_dbl(q, q);
    // The identity is (0 : Z : Z); (0, -1) cannot be [8]p (the group has no point of order 16).
    return fe_iszero(GX(q));
}

// Scalars: little-endian. s < L?
static int sc_is_canonical(const uint8_t s[32]) {
    for (int i = 31; i >= 0; i--) {
        if (s[i] != mc_ed_l[i]) {
            return s[i] < mc_ed_l[i];
        }
    }
    return 0; // s == L
}

// k = h mod L for a 512-bit h (bit-serial: r = 2r + bit, minus L when r >= L). 512 steps of
// 8-word shifts and compares: a few tens of thousands of instructions, no multiplies.
static void sc_reduce512(uint32_t k[8], const uint8_t h[64]) {
    uint32_t l[8];
    for (int i = 0; i < 8; i++) {
        l[i] = ld_le32(mc_ed_l + 4 * i);
        k[i] = 0;
    }
    for (int bit = 511; bit >= 0; bit--) {
        // r < L < 2^253, so 2r + 1 < 2^254 fits the 8 words.
        for (int i = 7; i > 0; i--) {
            k[i] = (k[i] << 1) | (k[i - 1] >> 31);
        }
        k[0] = (k[0] << 1) | ((h[bit >> 3] >> (bit & 7)) & 1);
        int geq = 1;
        for (int i = 7; i >= 0; i--) {
            if (k[i] != l[i]) {
                geq = k[i] > l[i];
                break;
            }
        }
        if (geq) {
            uint32_t borrow = 0;
            for (int i = 0; i < 8; i++) {
                uint32_t a = k[i], d = a - l[i] - borrow;
                borrow = (a < l[i]) | ((a == l[i]) & borrow);
                k[i] = d;
            }
        }
    }
}

// k = SHA-512(R || A || M) mod L, in its own frame (the hash state is not live during the
// scalar multiplication).
static MC_NOINLINE void ed_challenge(uint32_t k[8], const uint8_t *r, const uint8_t *a, const uint8_t *msg,
    size_t len) {
    mc_sha512_t s;
    uint8_t h[64];
    mc_sha512_init(&s);
    mc_sha512_update(&s, r, 32);
    mc_sha512_update(&s, a, 32);
    mc_sha512_update(&s, msg, len);
    mc_sha512_final(&s, h);
    sc_reduce512(k, h);
}

int mc_ed25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64]) {
    ge a, r, q, ab;
    uint32_t k[8];
    const uint8_t *s = sig + 32;
    if (!sc_is_canonical(s)) {
        return MC_ED_BAD_S;
    }
    if (ge_decode(a, pk) != 0) {
        return MC_ED_BAD_A;
    }
    if (ge_is_small(a)) {
        return MC_ED_SMALL_A;
    }
    if (ge_decode(r, sig) != 0) {
        return MC_ED_BAD_R;
    }
    if (ge_is_small(r)) {
        return MC_ED_SMALL_R;
    }
    ed_challenge(k, sig, pk, msg, len);
    // Q = [S]B + [k](-A) by joint double-and-add (Straus-Shamir) over B, -A and B - A.
    fe_neg(GX(a), GX(a));
    fe_neg(GT(a), GT(a));
    ge_add(ab, mc_ed_b, a);
    fe_set(GX(q), 0);
    fe_set(GY(q), 1);
    fe_set(GZ(q), 1);
    fe_set(GT(q), 0);            // Q = identity (0 : 1 : 1 : 0)
    for (int i = 252; i >= 0; i--) { // S, k < L < 2^253
        ge_dbl(q, q);
        uint32_t sb = (s[i >> 3] >> (i & 7)) & 1, kb = (k[i >> 5] >> (i & 31)) & 1;
        if (sb && kb) {
            ge_add(q, q, ab);
        } else if (sb) {
            ge_add(q, q, mc_ed_b);
        } else if (kb) {
            ge_add(q, q, a);
        }
    }
    // Q == R (R has Z = 1): X_Q = x_R Z_Q and Y_Q = y_R Z_Q.
    fe t;
    fe_mul(t, GX(r), GZ(q));
    fe_sub(t, GX(q), t);
    if (!fe_iszero(t)) {
        return MC_ED_MISMATCH;
    }
    fe_mul(t, GY(r), GZ(q));
    fe_sub(t, GY(q), t);
    return fe_iszero(t) ? MC_ED_OK : MC_ED_MISMATCH;
}

/******************************************************************************/
// CRCs (nibble tables: 16 entries each)

uint16_t mc_crc16_arc(const uint8_t *p, size_t n, uint16_t crc) {
    uint32_t c = crc;
    while (n--) {
        c ^= *p++;
        c = (c >> 4) ^ mc_crc16_a001[c & 0xf];
        c = (c >> 4) ^ mc_crc16_a001[c & 0xf];
    }
    return (uint16_t)c;
}

uint16_t mc_crc16_modbus(const uint8_t *p, size_t n, uint16_t crc) {
    return mc_crc16_arc(p, n, crc);
}

uint16_t mc_crc16_en13757(const uint8_t *p, size_t n) {
    uint32_t c = 0;
    while (n--) {
        c ^= (uint32_t)*p++ << 8;
        c = ((c << 4) ^ mc_crc16_3d65[(c >> 12) & 0xf]) & 0xffff;
        c = ((c << 4) ^ mc_crc16_3d65[(c >> 12) & 0xf]) & 0xffff;
    }
    return (uint16_t)(c ^ 0xffff);
}

uint32_t mc_crc32(const uint8_t *p, size_t n, uint32_t crc) {
    uint32_t c = ~crc;
    while (n--) {
        c ^= *p++;
        c = (c >> 4) ^ mc_crc32_tab[c & 0xf];
        c = (c >> 4) ^ mc_crc32_tab[c & 0xf];
    }
    return ~c;
}

/******************************************************************************/
// EN 13757-4 3-of-6

// Code tables mc_3of6_enc (nibble -> 6-bit word) and mc_3of6_dec (word -> nibble or 0xff) are
// in mc_tables.h.

size_t mc_3of6_encoded_len(size_t n) {
    return n + (n >> 1) + (n & 1);
}

int mc_3of6_decoded_len(size_t n, size_t *out) {
    // n = 3k -> 2k, n = 3k + 2 -> 2k + 1. Long division by 3 without a divide instruction
    // (armv6m has none and a natmod cannot call libgcc's __aeabi_uidiv without LINK_RUNTIME).
    size_t k = 0, r = n;
    for (int j = (int)(sizeof(size_t) * 8) - 2; j >= 0; j--) { // 3 << (bits - 2) still fits
        size_t step = (size_t)3 << j;
        if (r >= step) {
            r -= step;
            k |= (size_t)1 << j;
        }
    }
    if (r == 1) {
        return -1;
    }
    *out = 2 * k + (r == 2 ? 1 : 0);
    return 0;
}

void mc_3of6_encode(const uint8_t *src, size_t n, uint8_t *dst) {
    for (; n >= 2; n -= 2, src += 2, dst += 3) {
        uint32_t v = (uint32_t)mc_3of6_enc[src[0] >> 4] << 18 | (uint32_t)mc_3of6_enc[src[0] & 0xf] << 12
                     | (uint32_t)mc_3of6_enc[src[1] >> 4] << 6 | mc_3of6_enc[src[1] & 0xf];
        dst[0] = (uint8_t)(v >> 16);
        dst[1] = (uint8_t)(v >> 8);
        dst[2] = (uint8_t)v;
    }
    if (n) {
        uint32_t v = (uint32_t)mc_3of6_enc[src[0] >> 4] << 10 | (uint32_t)mc_3of6_enc[src[0] & 0xf] << 4 | 0x5;
        dst[0] = (uint8_t)(v >> 8);
        dst[1] = (uint8_t)v;
    }
}

int mc_3of6_decode(const uint8_t *src, size_t n, uint8_t *dst) {
    for (; n >= 3; n -= 3, src += 3, dst += 2) {
        uint32_t v = (uint32_t)src[0] << 16 | (uint32_t)src[1] << 8 | src[2];
        uint32_t a = mc_3of6_dec[v >> 18], b = mc_3of6_dec[(v >> 12) & 0x3f];
        uint32_t c = mc_3of6_dec[(v >> 6) & 0x3f], d = mc_3of6_dec[v & 0x3f];
        if ((a | b | c | d) & 0xf0) {
            return -1;
        }
        dst[0] = (uint8_t)(a << 4 | b);
        dst[1] = (uint8_t)(c << 4 | d);
    }
    if (n == 2) {
        uint32_t v = (uint32_t)src[0] << 8 | src[1];
        uint32_t a = mc_3of6_dec[v >> 10], b = mc_3of6_dec[(v >> 4) & 0x3f];
        if ((a | b) & 0xf0) {
            return -1;
        }
        dst[0] = (uint8_t)(a << 4 | b);
    } else if (n == 1) {
        return -1;
    }
    return 0;
}
