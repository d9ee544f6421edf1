// metercrypto core: AES (ECB/CBC/CTR/CMAC/GCM), DES, MISTY1, SHA-256, HMAC-SHA256, SHA-512,
// Ed25519 signature verification, CRCs, EN 13757-4 3-of-6.
//
// Pure C99, no MicroPython dependency, no heap, no static RAM (only const tables), no libc calls,
// no division and no variable 64-bit shifts (so armv6m/rv32 natmods need no libgcc helpers).
// All functions take (pointer, length) pairs; the caller validates lengths (see each function).
// Unless stated otherwise dst may equal src (exact in-place); partial overlap is not allowed.
#ifndef MC_CORE_H
#define MC_CORE_H

#include <stddef.h>
#include <stdint.h>

#define MC_AES_BLOCK 16

// Expanded AES key (encryption or decryption schedule). 244 bytes.
typedef struct {
    uint32_t rk[60];
    uint32_t nr; // 10, 12 or 14
} mc_aes_t;

// Key lengths: 16, 24 or 32. Return 0 on success, -1 on a bad key length (ctx untouched).
int mc_aes_setkey_enc(mc_aes_t *ctx, const uint8_t *key, size_t keylen);
int mc_aes_setkey_dec(mc_aes_t *ctx, const uint8_t *key, size_t keylen);
void mc_aes_encrypt_block(const mc_aes_t *ctx, const uint8_t in[16], uint8_t out[16]);
void mc_aes_decrypt_block(const mc_aes_t *ctx, const uint8_t in[16], uint8_t out[16]);

// len must be a multiple of 16.
void mc_ecb_encrypt(const mc_aes_t *enc, const uint8_t *src, uint8_t *dst, size_t len);
void mc_ecb_decrypt(const mc_aes_t *dec, const uint8_t *src, uint8_t *dst, size_t len);
void mc_cbc_encrypt(const mc_aes_t *enc, const uint8_t iv[16], const uint8_t *src, uint8_t *dst, size_t len);
void mc_cbc_decrypt(const mc_aes_t *dec, const uint8_t iv[16], const uint8_t *src, uint8_t *dst, size_t len);
// Any len; the 16-byte counter block is incremented as one 128-bit big-endian integer.
void mc_ctr_crypt(const mc_aes_t *enc, const uint8_t nonce[16], const uint8_t *src, uint8_t *dst, size_t len);
// AES-CMAC (SP 800-38B, RFC 4493), full 16-byte tag.
void mc_cmac(const mc_aes_t *enc, const uint8_t *data, size_t len, uint8_t mac[16]);

// DES (FIPS 46-3), for STS EA09. Round keys: 16 rounds x 8 six-bit groups (128 bytes); the key's
// parity bits (the low bit of each byte) are ignored, as in the standard.
typedef struct {
    uint8_t k[16][8];
} mc_des_t;

void mc_des_setkey(mc_des_t *ks, const uint8_t key[8]);
// len must be a multiple of 8; dst may equal src.
void mc_des_ecb(const mc_des_t *ks, int decrypt, const uint8_t *src, uint8_t *dst, size_t len);

// MISTY1 (RFC 2994, 8 rounds), for STS EA11. Expanded key: EK[0..7] = K, EK[8..15] = K' (the
// 9/7-bit halves RFC 2994 keeps as EK[16..31] are taken from K' when used). 32 bytes.
typedef struct {
    uint16_t ek[16];
} mc_misty1_t;

void mc_misty1_setkey(mc_misty1_t *ks, const uint8_t key[16]);
// len must be a multiple of 8; dst may equal src.
void mc_misty1_ecb(const mc_misty1_t *ks, int decrypt, const uint8_t *src, uint8_t *dst, size_t len);

// AES-GCM (SP 800-38D). ~540 bytes; lives on the caller's stack and must be wiped after use.
typedef struct {
    mc_aes_t aes;
    uint32_t m[16][4]; // 4-bit Shoup table of multiples of H (big-endian words)
    uint8_t j0[16];    // pre-counter block
} mc_gcm_t;

// ivlen >= 1 (12 is the fast path). Return 0 or -1 on a bad key/IV length.
int mc_gcm_init(mc_gcm_t *g, const uint8_t *key, size_t keylen, const uint8_t *iv, size_t ivlen);
// taglen 1..16 bytes of the tag are written (the binding enforces 12..16).
void mc_gcm_encrypt(const mc_gcm_t *g, const uint8_t *aad, size_t aadlen, const uint8_t *src, uint8_t *dst,
    size_t len, uint8_t *tag, size_t taglen);
// Authenticates first, then decrypts: on a tag mismatch (or taglen outside 4..16) returns -1 and
// dst is not written.
int mc_gcm_decrypt(const mc_gcm_t *g, const uint8_t *aad, size_t aadlen, const uint8_t *src, uint8_t *dst,
    size_t len, const uint8_t *tag, size_t taglen);

// SHA-256 / HMAC-SHA256.
typedef struct {
    uint32_t h[8];
    uint8_t buf[64];
    uint32_t nbuf;
    uint64_t total; // bytes hashed so far
} mc_sha256_t;

void mc_sha256_init(mc_sha256_t *s);
void mc_sha256_update(mc_sha256_t *s, const uint8_t *data, size_t len);
void mc_sha256_final(mc_sha256_t *s, uint8_t out[32]);
void mc_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
void mc_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *data, size_t len, uint8_t out[32]);

// SHA-512 (FIPS 180-4). 64-bit words: only additions and constant shifts, which every target
// (armv6m, rv32imc included) compiles inline.
typedef struct {
    uint64_t h[8];
    uint8_t buf[128];
    uint32_t nbuf;
    uint64_t total; // bytes hashed so far (the 128-bit length field's high half is always 0)
} mc_sha512_t;

void mc_sha512_init(mc_sha512_t *s);
void mc_sha512_update(mc_sha512_t *s, const uint8_t *data, size_t len);
void mc_sha512_final(mc_sha512_t *s, uint8_t out[64]);
void mc_sha512(const uint8_t *data, size_t len, uint8_t out[64]);

// Ed25519 signature verification (RFC 8032 5.1.7, pure Ed25519, cofactorless equation
// [S]B = R + [k]A). Returns 0 for a valid signature, or a negative MC_ED_* reason. Public data
// only: not constant-time. Stack: about 1.6 KB.
#define MC_ED_OK 0
#define MC_ED_BAD_S (-1)       // S >= L (non-canonical scalar: malleability)
#define MC_ED_BAD_A (-2)       // A: y >= p, x = 0 with the sign bit set, or not on the curve
#define MC_ED_SMALL_A (-3)     // A has small order ([8]A is the identity)
#define MC_ED_BAD_R (-4)       // R: as for A
#define MC_ED_SMALL_R (-5)     // R has small order
#define MC_ED_MISMATCH (-6)    // [S]B - [k]A != R
int mc_ed25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64]);

// CRCs. Each takes the running value and returns the new one; pass the documented initial value
// for a fresh computation. crc16_arc: init 0. crc16_modbus: init 0xFFFF. crc16_en13757: init 0,
// the final xorout 0xFFFF is applied inside (so this one has no running form). crc32: zlib
// semantics, init 0, and mc_crc32(b, mc_crc32(a, 0)) == mc_crc32(a||b, 0).
uint16_t mc_crc16_arc(const uint8_t *p, size_t n, uint16_t crc);
uint16_t mc_crc16_modbus(const uint8_t *p, size_t n, uint16_t crc);
uint16_t mc_crc16_en13757(const uint8_t *p, size_t n);
uint32_t mc_crc32(const uint8_t *p, size_t n, uint32_t crc);

// EN 13757-4 mode T "3 out of 6": each byte becomes two 6-bit code words (high nibble first),
// packed MSB first. An odd byte count leaves 4 spare bits in the last output byte, filled with
// the chips 0101. Encoded length = ceil(n * 12 / 8) = n + (n + 1) / 2.
size_t mc_3of6_encoded_len(size_t n);
// Valid encoded lengths are 3k (-> 2k bytes) and 3k + 2 (-> 2k + 1 bytes); -1 for 3k + 1.
int mc_3of6_decoded_len(size_t n, size_t *out);
// dst must not overlap src.
void mc_3of6_encode(const uint8_t *src, size_t n, uint8_t *dst);
// Returns 0, or -1 on an invalid code word (dst then holds partial output). The 4 spare bits of
// an odd-length frame are ignored. dst may equal src (decoding shrinks), no other overlap.
int mc_3of6_decode(const uint8_t *src, size_t n, uint8_t *dst);

// Constant-time equality of two n-byte buffers: 1 if equal, 0 otherwise.
int mc_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);
// Zero memory in a way the compiler cannot elide.
void mc_wipe(void *p, size_t n);

#endif // MC_CORE_H
