// metercrypto: MicroPython binding of mc_core (AES modes, GCM, CMAC, DES, MISTY1, SHA-256, HMAC,
// SHA-512, Ed25519 verification, CRCs, 3-of-6).
//
// One source, two builds:
//  - user C module (firmware and the Unix interpreters): MICROPY_ENABLE_DYNRUNTIME is not set, the
//    module is a ROM dict registered with MP_REGISTER_MODULE;
//  - dynamic native module (.mpy, natmod.mk): py/dynruntime.h maps the same runtime API onto
//    mp_fun_table, and mpy_init() stores the same function objects into the module globals.
// All argument parsing below is shared; only the includes, the libc shims and the registration
// at the end differ. See README.md for the API contract.
#if MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/runtime.h"
#include "py/objstr.h"
#endif

#include "mc_core.h"

#if MICROPY_ENABLE_DYNRUNTIME
// The compiler may emit calls to these for struct copies/initialisers; a natmod has no libc.
void *memcpy(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}
void *memmove(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}
void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}
#endif

/******************************************************************************/
// Argument helpers (shared by both builds)

// Read-only buffer. str is rejected (it has the buffer protocol in MicroPython, but passing text
// where key/data bytes are expected is a bug); non-buffers raise TypeError from the runtime.
static const uint8_t *mc_in(mp_obj_t o, size_t *n) {
    if (mp_obj_is_str(o)) {
        mp_raise_TypeError(MP_ERROR_TEXT("expected a bytes-like object, not str"));
    }
    mp_buffer_info_t b;
    mp_get_buffer_raise(o, &b, MP_BUFFER_READ);
    *n = b.len;
    return (const uint8_t *)b.buf;
}

// Writable buffer (bytearray, writable memoryview, array).
static uint8_t *mc_out(mp_obj_t o, size_t *n) {
    mp_buffer_info_t b;
    if (!mp_get_buffer(o, &b, MP_BUFFER_WRITE)) {
        mp_raise_TypeError(MP_ERROR_TEXT("output must be a writable buffer"));
    }
    *n = b.len;
    return (uint8_t *)b.buf;
}

static void mc_check_key(size_t n) {
    if (n != 16 && n != 24 && n != 32) {
        mp_raise_ValueError(MP_ERROR_TEXT("key must be 16, 24 or 32 bytes"));
    }
}

static void mc_check_iv16(size_t n) {
    if (n != 16) {
        mp_raise_ValueError(MP_ERROR_TEXT("iv/nonce must be 16 bytes"));
    }
}

static void mc_check_blocks(size_t n) {
    if (n & 15) {
        mp_raise_ValueError(MP_ERROR_TEXT("data length must be a multiple of 16"));
    }
}

// dst must hold need bytes and must not overlap src, except exact in-place (dst == src) when
// allow_same is set.
static void mc_check_dst(const uint8_t *src, size_t sn, const uint8_t *dst, size_t dn, size_t need,
    bool allow_same) {
    if (dn < need) {
        mp_raise_ValueError(MP_ERROR_TEXT("output buffer too small"));
    }
    uintptr_t s = (uintptr_t)src, d = (uintptr_t)dst;
    if (sn == 0 || need == 0 || (allow_same && s == d)) {
        return;
    }
    if (s < d + need && d < s + sn) {
        mp_raise_ValueError(MP_ERROR_TEXT("output overlaps input"));
    }
}

// A fresh bytes object of len bytes for the caller to fill in: one object, no copy. hash = 0
// means "not computed yet" to the runtime, so the contents may be written after creation.
static mp_obj_t mc_new_bytes(size_t len, uint8_t **data) {
    mp_obj_str_t *o = mp_obj_malloc(mp_obj_str_t, &mp_type_bytes);
    o->hash = 0;
    o->len = len;
    uint8_t *p = m_new(uint8_t, len + 1);
    p[len] = 0;
    o->data = p;
    *data = p;
    return MP_OBJ_FROM_PTR(o);
}

#define MC_INT_BIG (-1) // a valid int that is not a small int

// An int argument: small ints by value, other ints as MC_INT_BIG (callers treat it as out of
// range), TypeError for anything else.
static mp_int_t mc_int(mp_obj_t o) {
    if (mp_obj_is_small_int(o)) {
        return MP_OBJ_SMALL_INT_VALUE(o);
    }
    if (mp_obj_is_int(o)) {
        return MC_INT_BIG;
    }
    mp_raise_TypeError(MP_ERROR_TEXT("expected an int"));
}

// Optional argument given at position pos or as the keyword kw (the only keyword accepted).
static mp_obj_t mc_opt(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args, size_t pos, qstr kw) {
    if (n_args > pos + 1) {
        mp_raise_TypeError(MP_ERROR_TEXT("too many positional arguments"));
    }
    mp_obj_t v = n_args > pos ? args[pos] : MP_OBJ_NULL;
    if (kw_args != NULL) {
        for (size_t i = 0; i < kw_args->alloc; i++) {
            if (!mp_map_slot_is_filled(kw_args, i)) {
                continue;
            }
            if (kw_args->table[i].key != MP_OBJ_NEW_QSTR(kw) || v != MP_OBJ_NULL) {
                mp_raise_TypeError(MP_ERROR_TEXT("unexpected or repeated keyword argument"));
            }
            v = kw_args->table[i].value;
        }
    }
    return v;
}

static mp_obj_t mc_len_result(size_t n) {
    return mp_obj_new_int_from_uint(n);
}

/******************************************************************************/
// Block ciphers in ECB: AES (16-byte blocks), DES and MISTY1 (8-byte blocks for STS EA09/EA11).
// Non-_into: returns new bytes. _into: writes dst, returns bytes written.

#define MC_ENC 1
#define MC_DEC 0

#define MC_AES 0
#define MC_DES 1
#define MC_MISTY1 2

static mp_obj_t mc_ecb(const mp_obj_t *args, int alg, int enc, bool into) {
    size_t kn, sn, dn = 0;
    const uint8_t *k = mc_in(args[0], &kn);
    const uint8_t *s = mc_in(args[1], &sn);
    if (alg == MC_AES) {
        mc_check_key(kn);
        mc_check_blocks(sn);
    } else {
        if (alg == MC_DES && kn != 8) {
            mp_raise_ValueError(MP_ERROR_TEXT("DES key must be 8 bytes"));
        }
        if (alg == MC_MISTY1 && kn != 16) {
            mp_raise_ValueError(MP_ERROR_TEXT("MISTY1 key must be 16 bytes"));
        }
        if (sn & 7) {
            mp_raise_ValueError(MP_ERROR_TEXT("data length must be a multiple of 8"));
        }
    }
    uint8_t *d;
    mp_obj_t ret;
    if (into) {
        d = mc_out(args[2], &dn);
        mc_check_dst(s, sn, d, dn, sn, true);
        ret = mc_len_result(sn);
    } else {
        ret = mc_new_bytes(sn, &d);
    }
    union {
        mc_aes_t aes;
        mc_des_t des;
        mc_misty1_t misty1;
    } ctx;
    if (alg == MC_DES) {
        mc_des_setkey(&ctx.des, k);
        mc_des_ecb(&ctx.des, !enc, s, d, sn);
    } else if (alg == MC_MISTY1) {
        mc_misty1_setkey(&ctx.misty1, k);
        mc_misty1_ecb(&ctx.misty1, !enc, s, d, sn);
    } else if (enc) {
        mc_aes_setkey_enc(&ctx.aes, k, kn);
        mc_ecb_encrypt(&ctx.aes, s, d, sn);
    } else {
        mc_aes_setkey_dec(&ctx.aes, k, kn);
        mc_ecb_decrypt(&ctx.aes, s, d, sn);
    }
    mc_wipe(&ctx, sizeof(ctx));
    return ret;
}

// One wrapper per (cipher, direction, one-shot/_into): (key, data) or (key, src, dst).
#define MC_ECB_FUN(name, alg, enc, into) \
    static mp_obj_t name##_f(size_t n_args, const mp_obj_t *args) { \
        (void)n_args; \
        return mc_ecb(args, alg, enc, into); \
    } \
    static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(name##_obj, 2 + into, 2 + into, name##_f);

MC_ECB_FUN(mc_ecb_encrypt, MC_AES, MC_ENC, 0)
MC_ECB_FUN(mc_ecb_decrypt, MC_AES, MC_DEC, 0)
MC_ECB_FUN(mc_ecb_encrypt_into, MC_AES, MC_ENC, 1)
MC_ECB_FUN(mc_ecb_decrypt_into, MC_AES, MC_DEC, 1)
MC_ECB_FUN(mc_des_ecb_encrypt, MC_DES, MC_ENC, 0)
MC_ECB_FUN(mc_des_ecb_decrypt, MC_DES, MC_DEC, 0)
MC_ECB_FUN(mc_des_ecb_encrypt_into, MC_DES, MC_ENC, 1)
MC_ECB_FUN(mc_des_ecb_decrypt_into, MC_DES, MC_DEC, 1)
MC_ECB_FUN(mc_misty1_ecb_encrypt, MC_MISTY1, MC_ENC, 0)
MC_ECB_FUN(mc_misty1_ecb_decrypt, MC_MISTY1, MC_DEC, 0)
MC_ECB_FUN(mc_misty1_ecb_encrypt_into, MC_MISTY1, MC_ENC, 1)
MC_ECB_FUN(mc_misty1_ecb_decrypt_into, MC_MISTY1, MC_DEC, 1)

#define MC_CBC 0
#define MC_CTR 1

// (key, iv, data[, dst]) for CBC (whole blocks) and CTR (any length).
static mp_obj_t mc_ivmode(const mp_obj_t *args, int mode, int enc, bool into) {
    size_t kn, ivn, sn, dn = 0;
    const uint8_t *k = mc_in(args[0], &kn);
    const uint8_t *iv = mc_in(args[1], &ivn);
    const uint8_t *s = mc_in(args[2], &sn);
    mc_check_key(kn);
    mc_check_iv16(ivn);
    if (mode == MC_CBC) {
        mc_check_blocks(sn);
    }
    uint8_t *d;
    mp_obj_t ret;
    if (into) {
        d = mc_out(args[3], &dn);
        mc_check_dst(s, sn, d, dn, sn, true);
        ret = mc_len_result(sn);
    } else {
        ret = mc_new_bytes(sn, &d);
    }
    mc_aes_t ctx;
    if (mode == MC_CTR) {
        mc_aes_setkey_enc(&ctx, k, kn);
        mc_ctr_crypt(&ctx, iv, s, d, sn);
    } else if (enc) {
        mc_aes_setkey_enc(&ctx, k, kn);
        mc_cbc_encrypt(&ctx, iv, s, d, sn);
    } else {
        mc_aes_setkey_dec(&ctx, k, kn);
        mc_cbc_decrypt(&ctx, iv, s, d, sn);
    }
    mc_wipe(&ctx, sizeof(ctx));
    return ret;
}

static mp_obj_t mc_cbc_encrypt_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_ivmode(args, MC_CBC, MC_ENC, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_cbc_encrypt_obj, 3, 3, mc_cbc_encrypt_f);

static mp_obj_t mc_cbc_decrypt_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_ivmode(args, MC_CBC, MC_DEC, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_cbc_decrypt_obj, 3, 3, mc_cbc_decrypt_f);

static mp_obj_t mc_cbc_encrypt_into_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_ivmode(args, MC_CBC, MC_ENC, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_cbc_encrypt_into_obj, 4, 4, mc_cbc_encrypt_into_f);

static mp_obj_t mc_cbc_decrypt_into_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_ivmode(args, MC_CBC, MC_DEC, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_cbc_decrypt_into_obj, 4, 4, mc_cbc_decrypt_into_f);

static mp_obj_t mc_ctr_crypt_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_ivmode(args, MC_CTR, MC_ENC, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_ctr_crypt_obj, 3, 3, mc_ctr_crypt_f);

static mp_obj_t mc_ctr_crypt_into_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_ivmode(args, MC_CTR, MC_ENC, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_ctr_crypt_into_obj, 4, 4, mc_ctr_crypt_into_f);

/******************************************************************************/
// MACs and hashes. _into writes min(len(out), full length) bytes (a truncated MAC, e.g. the
// 8-byte OMS CMAC) and returns that count; out must not be empty.

// Separate frame for the key schedule, so the SHA-256/HMAC path does not carry it on the stack.
static MP_NOINLINE void mc_cmac_oneshot(const uint8_t *k, size_t kn, const uint8_t *s, size_t sn, uint8_t *md) {
    mc_aes_t ctx;
    mc_aes_setkey_enc(&ctx, k, kn);
    mc_cmac(&ctx, s, sn, md);
    mc_wipe(&ctx, sizeof(ctx));
}

#define MC_CMAC 0
#define MC_SHA256 1
#define MC_HMAC 2
#define MC_SHA512 3

static mp_obj_t mc_digest(const mp_obj_t *args, int alg, bool into) {
    size_t kn = 0, sn, on = 0;
    const uint8_t *k = NULL;
    if (alg == MC_CMAC || alg == MC_HMAC) {
        k = mc_in(*args++, &kn);
    }
    const uint8_t *s = mc_in(args[0], &sn);
    if (alg == MC_CMAC) {
        mc_check_key(kn);
    }
    size_t full = alg == MC_CMAC ? 16 : alg == MC_SHA512 ? 64 : 32;
    uint8_t *o;
    mp_obj_t ret;
    if (into) {
        o = mc_out(args[1], &on);
        if (on == 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("output buffer too small"));
        }
        if (on > full) {
            on = full;
        }
        ret = mc_len_result(on);
    } else {
        on = full;
        ret = mc_new_bytes(full, &o);
    }
    // Compute into a local block so out may alias the input and can be shorter than the digest.
    uint8_t md[64];
    if (alg == MC_CMAC) {
        mc_cmac_oneshot(k, kn, s, sn, md);
    } else if (alg == MC_SHA256) {
        mc_sha256(s, sn, md);
    } else if (alg == MC_SHA512) {
        mc_sha512(s, sn, md);
    } else {
        mc_hmac_sha256(k, kn, s, sn, md);
    }
    for (size_t i = 0; i < on; i++) {
        o[i] = md[i];
    }
    mc_wipe(md, sizeof(md));
    return ret;
}

static mp_obj_t mc_cmac_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_digest(args, MC_CMAC, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_cmac_obj, 2, 2, mc_cmac_f);

static mp_obj_t mc_cmac_into_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_digest(args, MC_CMAC, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_cmac_into_obj, 3, 3, mc_cmac_into_f);

static mp_obj_t mc_sha256_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_digest(args, MC_SHA256, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_sha256_obj, 1, 1, mc_sha256_f);

static mp_obj_t mc_sha256_into_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_digest(args, MC_SHA256, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_sha256_into_obj, 2, 2, mc_sha256_into_f);

static mp_obj_t mc_hmac_sha256_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_digest(args, MC_HMAC, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_hmac_sha256_obj, 2, 2, mc_hmac_sha256_f);

static mp_obj_t mc_hmac_sha256_into_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_digest(args, MC_HMAC, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_hmac_sha256_into_obj, 3, 3, mc_hmac_sha256_into_f);

static mp_obj_t mc_sha512_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_digest(args, MC_SHA512, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_sha512_obj, 1, 1, mc_sha512_f);

static mp_obj_t mc_sha512_into_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_digest(args, MC_SHA512, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_sha512_into_obj, 2, 2, mc_sha512_into_f);

/******************************************************************************/
// ed25519_verify(public_key32, message, signature64) -> bool. A wrong signature, a non-canonical
// or small-order key or R, and S >= L all give False (see README: the checks); only wrong types
// (TypeError) and lengths (ValueError) raise. Allocates nothing.

static mp_obj_t mc_ed25519_verify_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    size_t pn, mn, sn;
    const uint8_t *pk = mc_in(args[0], &pn);
    const uint8_t *m = mc_in(args[1], &mn);
    const uint8_t *sig = mc_in(args[2], &sn);
    if (pn != 32) {
        mp_raise_ValueError(MP_ERROR_TEXT("public key must be 32 bytes"));
    }
    if (sn != 64) {
        mp_raise_ValueError(MP_ERROR_TEXT("signature must be 64 bytes"));
    }
    return mp_obj_new_bool(mc_ed25519_verify(pk, m, mn, sig) == MC_ED_OK);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_ed25519_verify_obj, 3, 3, mc_ed25519_verify_f);

/******************************************************************************/
// AES-GCM

typedef struct {
    const uint8_t *k, *iv, *aad, *s;
    size_t kn, ivn, aadn, sn;
} mc_gcm_args_t;

// Parses and validates (key, iv, aad, src). The key schedule is set up by the caller only after
// every check and allocation, so nothing can raise between key setup and the wipe.
static void mc_gcm_args(const mp_obj_t *args, mc_gcm_args_t *a) {
    a->k = mc_in(args[0], &a->kn);
    a->iv = mc_in(args[1], &a->ivn);
    a->aad = mc_in(args[2], &a->aadn);
    a->s = mc_in(args[3], &a->sn);
    mc_check_key(a->kn);
    if (a->ivn == 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("iv must not be empty"));
    }
    #if SIZE_MAX > 0xffffffffu
    // SP 800-38D: plaintext at most 2^39 - 256 bits.
    if (a->sn > (((size_t)1 << 36) - 32)) {
        mp_raise_ValueError(MP_ERROR_TEXT("data too long for GCM"));
    }
    #endif
}

static void mc_check_taglen(size_t n) {
    if (n < 12 || n > 16) {
        mp_raise_ValueError(MP_ERROR_TEXT("tag must be 12..16 bytes"));
    }
}

// gcm_encrypt(key, iv, aad, plaintext, tag_len=16) -> (ciphertext, tag)
static mp_obj_t mc_gcm_encrypt_f(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args) {
    mp_obj_t tl_obj = mc_opt(n_args, args, kw_args, 4, MP_QSTR_tag_len);
    mc_gcm_args_t a;
    mc_gcm_args(args, &a);
    mp_int_t tl = tl_obj == MP_OBJ_NULL ? 16 : mc_int(tl_obj);
    if (tl < 12 || tl > 16) {
        mp_raise_ValueError(MP_ERROR_TEXT("tag_len must be 12..16"));
    }
    uint8_t *c, *t;
    mp_obj_t items[2];
    items[0] = mc_new_bytes(a.sn, &c);
    items[1] = mc_new_bytes((size_t)tl, &t);
    mp_obj_t ret = mp_obj_new_tuple(2, items);
    mc_gcm_t g;
    mc_gcm_init(&g, a.k, a.kn, a.iv, a.ivn);
    mc_gcm_encrypt(&g, a.aad, a.aadn, a.s, c, a.sn, t, (size_t)tl);
    mc_wipe(&g, sizeof(g));
    return ret;
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mc_gcm_encrypt_obj, 4, mc_gcm_encrypt_f);

// gcm_decrypt(key, iv, aad, ciphertext, tag), gcm_{en,de}crypt_into(key, iv, aad, src, dst, tag)
static mp_obj_t mc_gcm_do(const mp_obj_t *args, bool enc, bool into) {
    mc_gcm_args_t a;
    mc_gcm_args(args, &a);
    size_t dn = 0, tn;
    uint8_t *d;
    const uint8_t *tag_in = NULL;
    uint8_t *tag_out = NULL;
    mp_obj_t ret;
    if (into) {
        d = mc_out(args[4], &dn);
        mc_check_dst(a.s, a.sn, d, dn, a.sn, true);
        if (enc) {
            tag_out = mc_out(args[5], &tn);
            mc_check_taglen(tn);
            mc_check_dst(a.s, a.sn, tag_out, tn, tn, false);
            mc_check_dst(d, a.sn, tag_out, tn, tn, false);
            // The AAD is hashed after dst is written: it must not live in dst.
            mc_check_dst(a.aad, a.aadn, d, dn, a.sn, false);
        } else {
            tag_in = mc_in(args[5], &tn);
            mc_check_taglen(tn);
        }
        ret = mc_len_result(a.sn);
    } else {
        tag_in = mc_in(args[4], &tn);
        mc_check_taglen(tn);
        ret = mc_new_bytes(a.sn, &d);
    }
    mc_gcm_t g;
    mc_gcm_init(&g, a.k, a.kn, a.iv, a.ivn);
    int bad = 0;
    if (enc) {
        mc_gcm_encrypt(&g, a.aad, a.aadn, a.s, d, a.sn, tag_out, tn);
    } else {
        // Tag checked (constant time) before any plaintext is written.
        bad = mc_gcm_decrypt(&g, a.aad, a.aadn, a.s, d, a.sn, tag_in, tn);
    }
    mc_wipe(&g, sizeof(g));
    if (bad) {
        mp_raise_ValueError(MP_ERROR_TEXT("authentication failed (bad tag)"));
    }
    return ret;
}

static mp_obj_t mc_gcm_decrypt_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_gcm_do(args, false, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_gcm_decrypt_obj, 5, 5, mc_gcm_decrypt_f);

static mp_obj_t mc_gcm_encrypt_into_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_gcm_do(args, true, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_gcm_encrypt_into_obj, 6, 6, mc_gcm_encrypt_into_f);

static mp_obj_t mc_gcm_decrypt_into_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    return mc_gcm_do(args, false, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_gcm_decrypt_into_obj, 6, 6, mc_gcm_decrypt_into_f);

/******************************************************************************/
// CRCs: return an int. crc16_arc / crc16_modbus / crc32 take an optional running value (positional
// or keyword `crc`): f(b, f(a)) == f(a + b).

#define MC_CRC16_ARC 0
#define MC_CRC16_MODBUS 1
#define MC_CRC32 2

static mp_obj_t mc_crc(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args, int alg) {
    mp_obj_t init = mc_opt(n_args, args, kw_args, 1, MP_QSTR_crc);
    size_t n;
    const uint8_t *p = mc_in(args[0], &n);
    if (alg == MC_CRC32) {
        uint32_t c = 0;
        if (init != MP_OBJ_NULL) {
            // Like zlib.crc32, the running value is taken modulo 2**32.
            (void)mc_int(init); // TypeError for non-ints
            c = (uint32_t)mp_obj_get_int_truncated(init);
        }
        return mp_obj_new_int_from_uint(mc_crc32(p, n, c));
    }
    mp_int_t c = alg == MC_CRC16_MODBUS ? 0xffff : 0;
    if (init != MP_OBJ_NULL) {
        c = mc_int(init);
        if (c < 0 || c > 0xffff) {
            mp_raise_ValueError(MP_ERROR_TEXT("crc must be 0..0xFFFF"));
        }
    }
    return MP_OBJ_NEW_SMALL_INT(mc_crc16_arc(p, n, (uint16_t)c));
}

static mp_obj_t mc_crc16_arc_f(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args) {
    return mc_crc(n_args, args, kw_args, MC_CRC16_ARC);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mc_crc16_arc_obj, 1, mc_crc16_arc_f);

static mp_obj_t mc_crc16_modbus_f(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args) {
    return mc_crc(n_args, args, kw_args, MC_CRC16_MODBUS);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mc_crc16_modbus_obj, 1, mc_crc16_modbus_f);

static mp_obj_t mc_crc32_f(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args) {
    return mc_crc(n_args, args, kw_args, MC_CRC32);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(mc_crc32_obj, 1, mc_crc32_f);

static mp_obj_t mc_crc16_en13757_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    size_t n;
    const uint8_t *p = mc_in(args[0], &n);
    return MP_OBJ_NEW_SMALL_INT(mc_crc16_en13757(p, n));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_crc16_en13757_obj, 1, 1, mc_crc16_en13757_f);

/******************************************************************************/
// EN 13757-4 3-of-6

// n_args 3 (the _into forms): args[2] = n, only src[0:n] is coded (a fixed buffer holding a
// shorter packet, with no memoryview slice per length).
static mp_obj_t mc_3of6(size_t n_args, const mp_obj_t *args, bool enc, bool into) {
    size_t sn, dn = 0, need;
    const uint8_t *s = mc_in(args[0], &sn);
    if (n_args > 2) {
        mp_int_t k = mp_obj_get_int(args[2]);
        if (k < 0 || (size_t)k > sn) {
            mp_raise_ValueError(MP_ERROR_TEXT("index out of range"));
        }
        sn = (size_t)k;
    }
    if (enc) {
        need = mc_3of6_encoded_len(sn);
    } else if (mc_3of6_decoded_len(sn, &need) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("3-of-6 data length must be 3k or 3k+2"));
    }
    uint8_t *d;
    mp_obj_t ret;
    if (into) {
        d = mc_out(args[1], &dn);
        // Decoding shrinks, so exact in-place is safe; encoding grows, so it is not.
        mc_check_dst(s, sn, d, dn, need, !enc);
        ret = mc_len_result(need);
    } else {
        ret = mc_new_bytes(need, &d);
    }
    if (enc) {
        mc_3of6_encode(s, sn, d);
    } else if (mc_3of6_decode(s, sn, d) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid 3-of-6 code word"));
    }
    return ret;
}

static mp_obj_t mc_encode_3of6_f(size_t n_args, const mp_obj_t *args) {
    return mc_3of6(n_args, args, true, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_encode_3of6_obj, 1, 1, mc_encode_3of6_f);

static mp_obj_t mc_decode_3of6_f(size_t n_args, const mp_obj_t *args) {
    return mc_3of6(n_args, args, false, false);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_decode_3of6_obj, 1, 1, mc_decode_3of6_f);

static mp_obj_t mc_encode_3of6_into_f(size_t n_args, const mp_obj_t *args) {
    return mc_3of6(n_args, args, true, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_encode_3of6_into_obj, 2, 3, mc_encode_3of6_into_f);

static mp_obj_t mc_decode_3of6_into_f(size_t n_args, const mp_obj_t *args) {
    return mc_3of6(n_args, args, false, true);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_decode_3of6_into_obj, 2, 3, mc_decode_3of6_into_f);

/******************************************************************************/
// compare_digest(a, b) -> bool, constant time for equal lengths (a length mismatch returns False
// at once, like hmac.compare_digest).

static mp_obj_t mc_compare_digest_f(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    size_t an, bn;
    const uint8_t *a = mc_in(args[0], &an);
    const uint8_t *b = mc_in(args[1], &bn);
    return mp_obj_new_bool(an == bn && mc_ct_equal(a, b, an));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mc_compare_digest_obj, 2, 2, mc_compare_digest_f);

/******************************************************************************/
// Registration. The list spells every MP_QSTR_ name out in full: the natmod tool (mpy_ld.py)
// finds qstrs with a regex over the source text, not the preprocessed output.

#define MC_FUNCTIONS(X) \
    X(MP_QSTR_ecb_encrypt, mc_ecb_encrypt_obj) \
    X(MP_QSTR_ecb_decrypt, mc_ecb_decrypt_obj) \
    X(MP_QSTR_ecb_encrypt_into, mc_ecb_encrypt_into_obj) \
    X(MP_QSTR_ecb_decrypt_into, mc_ecb_decrypt_into_obj) \
    X(MP_QSTR_des_ecb_encrypt, mc_des_ecb_encrypt_obj) \
    X(MP_QSTR_des_ecb_decrypt, mc_des_ecb_decrypt_obj) \
    X(MP_QSTR_des_ecb_encrypt_into, mc_des_ecb_encrypt_into_obj) \
    X(MP_QSTR_des_ecb_decrypt_into, mc_des_ecb_decrypt_into_obj) \
    X(MP_QSTR_misty1_ecb_encrypt, mc_misty1_ecb_encrypt_obj) \
    X(MP_QSTR_misty1_ecb_decrypt, mc_misty1_ecb_decrypt_obj) \
    X(MP_QSTR_misty1_ecb_encrypt_into, mc_misty1_ecb_encrypt_into_obj) \
    X(MP_QSTR_misty1_ecb_decrypt_into, mc_misty1_ecb_decrypt_into_obj) \
    X(MP_QSTR_cbc_encrypt, mc_cbc_encrypt_obj) \
    X(MP_QSTR_cbc_decrypt, mc_cbc_decrypt_obj) \
    X(MP_QSTR_cbc_encrypt_into, mc_cbc_encrypt_into_obj) \
    X(MP_QSTR_cbc_decrypt_into, mc_cbc_decrypt_into_obj) \
    X(MP_QSTR_ctr_crypt, mc_ctr_crypt_obj) \
    X(MP_QSTR_ctr_crypt_into, mc_ctr_crypt_into_obj) \
    X(MP_QSTR_cmac, mc_cmac_obj) \
    X(MP_QSTR_cmac_into, mc_cmac_into_obj) \
    X(MP_QSTR_gcm_encrypt, mc_gcm_encrypt_obj) \
    X(MP_QSTR_gcm_decrypt, mc_gcm_decrypt_obj) \
    X(MP_QSTR_gcm_encrypt_into, mc_gcm_encrypt_into_obj) \
    X(MP_QSTR_gcm_decrypt_into, mc_gcm_decrypt_into_obj) \
    X(MP_QSTR_sha256, mc_sha256_obj) \
    X(MP_QSTR_sha256_into, mc_sha256_into_obj) \
    X(MP_QSTR_hmac_sha256, mc_hmac_sha256_obj) \
    X(MP_QSTR_hmac_sha256_into, mc_hmac_sha256_into_obj) \
    X(MP_QSTR_sha512, mc_sha512_obj) \
    X(MP_QSTR_sha512_into, mc_sha512_into_obj) \
    X(MP_QSTR_ed25519_verify, mc_ed25519_verify_obj) \
    X(MP_QSTR_crc16_en13757, mc_crc16_en13757_obj) \
    X(MP_QSTR_crc16_arc, mc_crc16_arc_obj) \
    X(MP_QSTR_crc16_modbus, mc_crc16_modbus_obj) \
    X(MP_QSTR_crc32, mc_crc32_obj) \
    X(MP_QSTR_encode_3of6, mc_encode_3of6_obj) \
    X(MP_QSTR_decode_3of6, mc_decode_3of6_obj) \
    X(MP_QSTR_encode_3of6_into, mc_encode_3of6_into_obj) \
    X(MP_QSTR_decode_3of6_into, mc_decode_3of6_into_obj) \
    X(MP_QSTR_compare_digest, mc_compare_digest_obj)

#if MICROPY_ENABLE_DYNRUNTIME

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    #define MC_STORE(q, obj) mp_store_global(q, MP_OBJ_FROM_PTR(&obj));
    MC_FUNCTIONS(MC_STORE)
    #undef MC_STORE
    MP_DYNRUNTIME_INIT_EXIT
}

#else

static const mp_rom_map_elem_t mc_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_metercrypto) },
    #define MC_ROM_ENTRY(q, obj) { MP_ROM_QSTR(q), MP_ROM_PTR(&obj) },
    MC_FUNCTIONS(MC_ROM_ENTRY)
    #undef MC_ROM_ENTRY
};
static MP_DEFINE_CONST_DICT(mc_globals, mc_globals_table);

const mp_obj_module_t metercrypto_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&mc_globals,
};
MP_REGISTER_MODULE(MP_QSTR_metercrypto, metercrypto_user_cmodule);

#endif
