// metercrypto core algorithms. See mc_core.h for the contract.
//
// AES uses one 1 KiB forward and one 1 KiB inverse round table (rotated per row) plus the 256-byte
// inverse S-box: 2.3 KiB of const data, versus 8+ KiB for the classic four-table layout. The
// forward S-box is byte 1 of the forward table entry. Tables are indexed by secret-dependent
// bytes, so on CPUs with a data cache this AES is not constant-time (same as mbedTLS's default);
// on cache-less MCUs with tables in zero-wait-state memory it is. See README.md.
#include "mc_core.h"
#include "mc_tables.h"

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
    if (s->nbuf > 0) {
        while (len > 0 && s->nbuf < 64) {
            s->buf[s->nbuf++] = *data++;
            len--;
        }
        if (s->nbuf < 64) {
            return;
        }
        sha256_block(s->h, s->buf);
        s->nbuf = 0;
    }
    for (; len >= 64; len -= 64, data += 64) {
        sha256_block(s->h, data);
    }
    while (len-- > 0) {
        s->buf[s->nbuf++] = *data++;
    }
}

void mc_sha256_final(mc_sha256_t *s, uint8_t out[32]) {
    uint64_t bits = s->total << 3;
    s->buf[s->nbuf++] = 0x80;
    if (s->nbuf > 56) {
        while (s->nbuf < 64) {
            s->buf[s->nbuf++] = 0;
        }
        sha256_block(s->h, s->buf);
        s->nbuf = 0;
    }
    while (s->nbuf < 56) {
        s->buf[s->nbuf++] = 0;
    }
    for (int i = 63; i >= 56; i--) {
        s->buf[i] = (uint8_t)bits;
        bits >>= 8;
    }
    sha256_block(s->h, s->buf);
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
