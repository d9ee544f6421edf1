"""Differential tests: metercrypto (in MicroPython) against `cryptography` / hashlib / zlib /
bitwise reference code (in CPython), over hypothesis-generated inputs. MISTY1 has no peer
library: its reference is tests/misty1_ref.py, written from RFC 2994.

How it stays fast: hypothesis is used as a *generator* only. For every mode a @given-decorated
collector is called once at session start (derandomized, no database, so the examples are the
same on every run); it appends each drawn example to a list. The whole batch, all modes, is then
sent as JSON lines to one MicroPython process per target (a small driver script on stdin/stdout),
and each test item compares its mode's slice with the reference results. That is ~3 subprocesses
instead of thousands. The price: a failure is reported with the failing input as drawn, without
hypothesis shrinking (the inputs are small: at most 300 bytes).

Every one-shot call is also checked through its _into variant (in place, or into a larger or
shorter output buffer), and GCM decryption is fed tampered inputs that must raise ValueError and
leave the output buffer untouched.

Targets: `unix`, `unix32` (the built-in module) and `natmod-x64` (the x64 .mpy in the 64-bit
interpreter; built on demand, skipped with the build log only if it cannot be built).
MC_DIFF_EXAMPLES overrides the number of examples per mode (default 300).
"""
import hashlib
import json
import os
import zlib

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives import cmac as c_cmac
from cryptography.hazmat.primitives import hashes, hmac as c_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
from cryptography.exceptions import InvalidSignature

import misty1_ref

from conftest import run_mp
from crypto_support import TARGETS, ensure_natmod_x64

EXAMPLES = int(os.environ.get("MC_DIFF_EXAMPLES", "300"))

# ---------------------------------------------------------------------------------------------
# MicroPython side: a generic call driver. Each input line is [function, [args], {kwargs}], args
# encoded as "h:<hex>" bytes, "w:<hex>" bytearray (returned after the call), "n:<int>", or
# "r:<i>" (the same object as argument i, for in-place calls). Output per line:
# ["ok", result, [bytearrays]] or ["exc", exception name, [bytearrays]].

DRIVER = r"""
import sys, json
mc = __import__(sys.argv[1])
h = bytes.fromhex

def hx(b):
    # MicroPython quirk: b"".hex() returns b"" rather than "".
    return b.hex() if len(b) else ""

def dec(a, args):
    t, v = a[0], a[2:]
    if t == "h":
        return h(v)
    if t == "w":
        return bytearray(h(v))
    if t == "n":
        return int(v)
    return args[int(v)]

def enc(r):
    if r is None or r is True or r is False:
        return r
    if isinstance(r, int):
        return "n:%d" % r
    if isinstance(r, (bytes, bytearray)):
        return "h:" + hx(r)
    if isinstance(r, tuple):
        return [enc(x) for x in r]
    return "?" + repr(r)

while True:
    line = sys.stdin.readline()
    if not line:
        break
    fn, raw, kw = json.loads(line)
    args = []
    for a in raw:
        args.append(dec(a, args))
    try:
        r = getattr(mc, fn)(*args, **kw)
        res = ["ok", enc(r)]
    except Exception as e:
        res = ["exc", type(e).__name__]
    res.append([hx(args[i]) for i in range(len(raw)) if raw[i][0] == "w"])
    print(json.dumps(res))
print("@@END")
"""


def H(b):
    return "h:" + bytes(b).hex()


def W(b):
    return "w:" + bytes(b).hex()


def N(i):
    return "n:%d" % i


def R(i):
    return "r:%d" % i


def ok(ret, bufs=()):
    return ["ok", ret, [bytes(b).hex() for b in bufs]]


def exc(name, bufs=()):
    return ["exc", name, [bytes(b).hex() for b in bufs]]


# ---------------------------------------------------------------------------------------------
# Reference implementations (independent of the C code: bitwise CRCs, bitwise 3-of-6)

def ref_ecb(key, data, encrypt):
    c = Cipher(algorithms.AES(key), modes.ECB())
    x = c.encryptor() if encrypt else c.decryptor()
    return x.update(data) + x.finalize()


def ref_cbc(key, iv, data, encrypt):
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    x = c.encryptor() if encrypt else c.decryptor()
    return x.update(data) + x.finalize()


def ref_ctr(key, nonce, data):
    x = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
    return x.update(data) + x.finalize()


def ref_des(key, data, encrypt):
    # Single DES is TripleDES with K1 = K2 = K3 (EDE collapses to one DES operation).
    c = Cipher(TripleDES(key * 3), modes.ECB())
    x = c.encryptor() if encrypt else c.decryptor()
    return x.update(data) + x.finalize()


def ref_ed25519(pk, msg, sig):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


def ref_cmac(key, data):
    c = c_cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def ref_sha256(data):
    d = hashes.Hash(hashes.SHA256())
    d.update(data)
    return d.finalize()


def ref_hmac(key, data):
    m = c_hmac.HMAC(key, hashes.SHA256())
    m.update(data)
    return m.finalize()


def crc_reflected(data, poly, init, xorout, width=16):
    c = init
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
    return c ^ xorout


def crc16_en13757_ref(data):
    c = 0
    for b in data:
        c ^= b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x3D65) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c ^ 0xFFFF


CODE36 = [0x16, 0x0D, 0x0E, 0x0B, 0x1C, 0x19, 0x1A, 0x13, 0x2C, 0x25, 0x26, 0x23, 0x34, 0x31, 0x32, 0x29]


def enc3of6_ref(data):
    bits = "".join(format(CODE36[b >> 4], "06b") + format(CODE36[b & 15], "06b") for b in data)
    if len(bits) % 8:
        bits += "0101"
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def mutate(b, pos, val):
    if not b:
        return b
    b = bytearray(b)
    b[pos % len(b)] = val
    return bytes(b)


def dec3of6_ref(data):
    """Decoded bytes, or None if the length or any code word is invalid."""
    if len(data) % 3 == 1:
        return None
    bits = "".join(format(b, "08b") for b in data)
    if len(data) % 3 == 2:
        bits = bits[:-4]
    inv = {w: n for n, w in enumerate(CODE36)}
    nibs = []
    for i in range(0, len(bits), 6):
        w = int(bits[i:i + 6], 2)
        if w not in inv:
            return None
        nibs.append(inv[w])
    return bytes(nibs[i] << 4 | nibs[i + 1] for i in range(0, len(nibs), 2))


# ---------------------------------------------------------------------------------------------
# Strategies and case builders. Each mode: a strategy of raw parameters and a function turning
# one parameter set into a list of (call, expected) pairs.

keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
blocks = st.integers(0, 18).flatmap(lambda n: st.binary(min_size=16 * n, max_size=16 * n))
data300 = st.binary(max_size=300)
iv16 = st.binary(min_size=16, max_size=16)
# CTR nonces that carry through many bytes of the 128-bit counter.
nonces = st.one_of(iv16, st.builds(lambda b, k: b[:16 - k] + b"\xff" * k, iv16, st.integers(1, 16)))
gcm_ivs = st.one_of(st.binary(min_size=12, max_size=12), st.binary(min_size=8, max_size=64))
aads = st.binary(max_size=64)


def cases_ecb(p):
    key, data, encrypt = p
    ref = ref_ecb(key, data, encrypt)
    f = "ecb_encrypt" if encrypt else "ecb_decrypt"
    return [
        ([f, [H(key), H(data)], {}], ok(H(ref))),
        ([f + "_into", [H(key), W(data), R(1)], {}], ok(N(len(data)), [ref])),
    ]


def cases_cbc(p):
    key, iv, data, encrypt, extra = p
    ref = ref_cbc(key, iv, data, encrypt)
    f = "cbc_encrypt" if encrypt else "cbc_decrypt"
    return [
        ([f, [H(key), H(iv), H(data)], {}], ok(H(ref))),
        ([f + "_into", [H(key), H(iv), W(data), R(2)], {}], ok(N(len(data)), [ref])),
        ([f + "_into", [H(key), H(iv), H(data), W(b"\xaa" * (len(data) + extra))], {}],
         ok(N(len(data)), [ref + b"\xaa" * extra])),
    ]


def cases_ctr(p):
    key, nonce, data = p
    ref = ref_ctr(key, nonce, data)
    return [
        (["ctr_crypt", [H(key), H(nonce), H(data)], {}], ok(H(ref))),
        (["ctr_crypt_into", [H(key), H(nonce), W(data), R(2)], {}], ok(N(len(data)), [ref])),
    ]


def cases_block64(p, name, ref):
    key, data, encrypt, extra = p
    want = ref(key, data, encrypt)
    f = name + ("_ecb_encrypt" if encrypt else "_ecb_decrypt")
    return [
        ([f, [H(key), H(data)], {}], ok(H(want))),
        ([f + "_into", [H(key), W(data), R(1)], {}], ok(N(len(data)), [want])),
        ([f + "_into", [H(key), H(data), W(b"\xaa" * (len(data) + extra))], {}],
         ok(N(len(data)), [want + b"\xaa" * extra])),
    ]


def cases_des(p):
    return cases_block64(p, "des", ref_des)


def cases_misty1(p):
    return cases_block64(p, "misty1", misty1_ref.ecb)


def cases_sha512(p):
    data, outlen = p
    want = hashlib.sha512(data).digest()
    n = min(outlen, 64)
    return [
        (["sha512", [H(data)], {}], ok(H(want))),
        (["sha512_into", [H(data), W(bytes(outlen))], {}], ok(N(n), [want[:n] + bytes(outlen - n)])),
    ]


def cases_ed25519(p):
    """A fresh key pair and message signed by `cryptography`, verified as is or with one part
    changed; the expected result is cryptography's own verify() on the same (pk, msg, sig)."""
    seed, msg, what, pos = p
    sk = Ed25519PrivateKey.from_private_bytes(seed)
    pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    sig = sk.sign(msg)
    if what == "msg":
        msg = msg + b"\x00" if not msg else mutate(msg, pos, msg[pos % len(msg)] ^ (1 << (pos % 8)))
    elif what == "sig":
        sig = mutate(sig, pos, sig[pos % 64] ^ (1 << (pos % 8)))
    elif what == "pk":
        pk = mutate(pk, pos, pk[pos % 32] ^ (1 << (pos % 8)))
    return [(["ed25519_verify", [H(pk), H(msg), H(sig)], {}], ok(ref_ed25519(pk, msg, sig)))]


def cases_cmac(p):
    key, data, outlen = p
    ref = ref_cmac(key, data)
    n = min(outlen, 16)
    return [
        (["cmac", [H(key), H(data)], {}], ok(H(ref))),
        (["cmac_into", [H(key), H(data), W(bytes(outlen))], {}], ok(N(n), [ref[:n] + bytes(outlen - n)])),
    ]


def cases_gcm_enc(p):
    key, iv, aad, pt, tl = p
    full = AESGCM(key).encrypt(iv, pt, aad)
    ct, tag = full[:-16], full[-16:][:tl]
    return [
        (["gcm_encrypt", [H(key), H(iv), H(aad), H(pt)], {"tag_len": tl}], ok([H(ct), H(tag)])),
        (["gcm_encrypt_into", [H(key), H(iv), H(aad), W(pt), R(3), W(bytes(tl))], {}], ok(N(len(pt)), [ct, tag])),
    ]


def cases_gcm_dec(p):
    key, iv, aad, pt, tl, what, pos = p
    full = AESGCM(key).encrypt(iv, pt, aad)
    ct, tag = full[:-16], full[-16:][:tl]

    def flip(b):
        if not b:
            return b"\x00"  # lengthening an empty field also breaks authentication
        b = bytearray(b)
        b[pos % len(b)] ^= 1 << (pos % 8)
        return bytes(b)

    fill = b"\x5a" * len(ct)
    if what == "none":
        return [
            (["gcm_decrypt", [H(key), H(iv), H(aad), H(ct), H(tag)], {}], ok(H(pt))),
            (["gcm_decrypt_into", [H(key), H(iv), H(aad), H(ct), W(fill), H(tag)], {}], ok(N(len(ct)), [pt])),
            (["gcm_decrypt_into", [H(key), H(iv), H(aad), W(ct), R(3), H(tag)], {}], ok(N(len(ct)), [pt])),
        ]
    iv2, aad2, ct2, tag2 = iv, aad, ct, tag
    if what == "ct":
        ct2 = flip(ct)
        fill = b"\x5a" * len(ct2)
    elif what == "tag":
        tag2 = flip(tag)
    elif what == "aad":
        aad2 = flip(aad)
    else:
        iv2 = flip(iv)
    return [
        (["gcm_decrypt", [H(key), H(iv2), H(aad2), H(ct2), H(tag2)], {}], exc("ValueError")),
        (["gcm_decrypt_into", [H(key), H(iv2), H(aad2), H(ct2), W(fill), H(tag2)], {}], exc("ValueError", [fill])),
    ]


def cases_sha256(p):
    data, outlen = p
    ref = ref_sha256(data)
    n = min(outlen, 32)
    return [
        (["sha256", [H(data)], {}], ok(H(ref))),
        (["sha256_into", [H(data), W(bytes(outlen))], {}], ok(N(n), [ref[:n] + bytes(outlen - n)])),
    ]


def cases_hmac(p):
    key, data, outlen = p
    ref = ref_hmac(key, data)
    n = min(outlen, 32)
    return [
        (["hmac_sha256", [H(key), H(data)], {}], ok(H(ref))),
        (["hmac_sha256_into", [H(key), H(data), W(bytes(outlen))], {}], ok(N(n), [ref[:n] + bytes(outlen - n)])),
    ]


def cases_crc(p):
    data, cut = p
    cut = min(cut, len(data))
    a = data[:cut]
    arc = crc_reflected(data, 0xA001, 0, 0)
    modbus = crc_reflected(data, 0xA001, 0xFFFF, 0)
    return [
        (["crc16_arc", [H(data)], {}], ok(N(arc))),
        (["crc16_arc", [H(data[cut:]), N(crc_reflected(a, 0xA001, 0, 0))], {}], ok(N(arc))),
        (["crc16_modbus", [H(data)], {}], ok(N(modbus))),
        (["crc16_modbus", [H(data[cut:])], {"crc": crc_reflected(a, 0xA001, 0xFFFF, 0)}], ok(N(modbus))),
        (["crc16_en13757", [H(data)], {}], ok(N(crc16_en13757_ref(data)))),
        (["crc32", [H(data)], {}], ok(N(zlib.crc32(data)))),
        (["crc32", [H(data[cut:]), N(zlib.crc32(a))], {}], ok(N(zlib.crc32(data)))),
    ]


def cases_3of6(p):
    data, noise = p
    enc = enc3of6_ref(data)
    out = [
        (["encode_3of6", [H(data)], {}], ok(H(enc))),
        (["decode_3of6", [H(enc)], {}], ok(H(data))),
        (["encode_3of6_into", [H(data), W(bytes(len(enc) + 1))], {}], ok(N(len(enc)), [enc + b"\x00"])),
        (["decode_3of6_into", [W(enc), R(0)], {}], ok(N(len(data)), [data + enc[len(data):]])),
    ]
    # Random bytes: valid only if every 6-bit word is a code word (and the length is 3k/3k+2).
    ref = dec3of6_ref(noise)
    out.append((["decode_3of6", [H(noise)], {}], exc("ValueError") if ref is None else ok(H(ref))))
    return out


blocks8 = st.integers(0, 20).flatmap(lambda n: st.binary(min_size=8 * n, max_size=8 * n))

MODES = {
    "ecb": (st.tuples(keys, blocks, st.booleans()), cases_ecb),
    "des": (st.tuples(st.binary(min_size=8, max_size=8), blocks8, st.booleans(), st.integers(0, 12)), cases_des),
    "misty1": (st.tuples(st.binary(min_size=16, max_size=16), blocks8, st.booleans(), st.integers(0, 12)),
               cases_misty1),
    "sha512": (st.tuples(st.one_of(data300, st.binary(min_size=500, max_size=3000)), st.integers(1, 80)),
               cases_sha512),
    "ed25519": (st.tuples(st.binary(min_size=32, max_size=32), st.one_of(data300, st.binary(max_size=4)),
                          st.sampled_from(["none", "none", "msg", "sig", "pk"]), st.integers(0, 10000)),
                cases_ed25519),
    "cbc": (st.tuples(keys, iv16, blocks, st.booleans(), st.integers(0, 20)), cases_cbc),
    "ctr": (st.tuples(keys, nonces, data300), cases_ctr),
    "cmac": (st.tuples(keys, data300, st.integers(1, 24)), cases_cmac),
    "gcm_encrypt": (st.tuples(keys, gcm_ivs, aads, data300, st.integers(12, 16)), cases_gcm_enc),
    "gcm_decrypt": (st.tuples(keys, gcm_ivs, aads, data300, st.integers(12, 16),
                              st.sampled_from(["none", "none", "ct", "tag", "aad", "iv"]), st.integers(0, 10000)),
                    cases_gcm_dec),
    "sha256": (st.tuples(st.one_of(data300, st.binary(min_size=500, max_size=3000)), st.integers(1, 40)),
               cases_sha256),
    "hmac_sha256": (st.tuples(st.binary(max_size=150), data300, st.integers(1, 40)), cases_hmac),
    "crc": (st.tuples(data300, st.integers(0, 300)), cases_crc),
    "3of6": (st.tuples(st.binary(max_size=120),
                       st.one_of(st.binary(max_size=30),
                                 # valid encodings with one byte replaced: sometimes still valid
                                 st.tuples(st.binary(max_size=40), st.integers(0, 1000), st.integers(0, 255)).map(
                                     lambda t: mutate(enc3of6_ref(t[0]), t[1], t[2])))),
             cases_3of6),
}


def generate(mode):
    strategy, build = MODES[mode]
    drawn = []

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(p):
        drawn.append(p)

    collect()
    cases = []
    for p in drawn:
        cases.extend(build(p))
    return cases


# ---------------------------------------------------------------------------------------------
# Running and comparing

_cases = {}
_results = {}


def all_cases():
    if not _cases:
        for mode in MODES:
            _cases[mode] = generate(mode)
    return _cases


def run_target(target, tmp_dir):
    if target in _results:
        return _results[target]
    interp, module, extra = TARGETS[target]
    cases = all_cases()
    order = [(mode, i) for mode in MODES for i in range(len(cases[mode]))]
    lines = "".join(json.dumps(cases[m][i][0]) + "\n" for m, i in order)
    script = os.path.join(tmp_dir, "mc_diff_driver.py")
    with open(script, "w") as f:
        f.write(DRIVER)
    p = run_mp(interp, [script, module], timeout=600, heap="16M", extra_path=extra, input_data=lines)
    out = p.stdout.splitlines()
    res = {m: [] for m in MODES}
    problem = None
    if not out or out[-1] != "@@END" or len(out) - 1 != len(order):
        problem = "driver on %s ended early (exit %s, %d of %d results)\nstderr: %s\nstdout tail: %s" % (
            target, p.returncode, max(len(out) - 1, 0), len(order), p.stderr[-2000:], "\n".join(out[-5:]))
    else:
        for (m, i), line in zip(order, out):
            res[m].append(json.loads(line))
    _results[target] = (res, problem)
    return _results[target]


def compare(cases, results):
    """Return a list of mismatch descriptions (empty when everything agrees)."""
    bad = []
    for (call, want), got in zip(cases, results):
        if got != want:
            bad.append("call %s\n  want %s\n  got  %s" % (json.dumps(call)[:600], json.dumps(want)[:400],
                                                         json.dumps(got)[:400]))
    if len(results) != len(cases):
        bad.append("%d results for %d cases" % (len(results), len(cases)))
    return bad


@pytest.fixture(scope="session")
def diff_tmp(tmp_path_factory):
    return str(tmp_path_factory.mktemp("mcdiff"))


def _target(target):
    if target == "natmod-x64":
        reason = ensure_natmod_x64()
        if reason:
            pytest.skip(reason)
    return target


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("target", list(TARGETS))
def test_diff(target, mode, diff_tmp):
    res, problem = run_target(_target(target), diff_tmp)
    if problem:
        pytest.fail(problem)
    cases = all_cases()[mode]
    assert len(cases) >= EXAMPLES  # every example produced at least one call
    bad = compare(cases, res[mode])
    assert not bad, "%d of %d %s calls differ on %s; first ones:\n%s" % (
        len(bad), len(cases), mode, target, "\n".join(bad[:5]))


def test_diff_catches_wrong_results(diff_tmp):
    """The comparison must be able to fail: a corrupted MicroPython result, a result computed
    with a different nonce, and a missing result are all reported."""
    res, problem = run_target("unix", diff_tmp)
    assert problem is None, problem
    cases = all_cases()["ctr"]
    good = res["ctr"]
    assert compare(cases, good) == []
    # 1. flip one bit of one returned ciphertext
    corrupt = json.loads(json.dumps(good))
    idx = next(i for i, r in enumerate(corrupt) if r[0] == "ok" and isinstance(r[1], str) and len(r[1]) > 2)
    hx = corrupt[idx][1]
    corrupt[idx][1] = hx[:-1] + "%x" % (int(hx[-1], 16) ^ 1)
    assert len(compare(cases, corrupt)) == 1
    # 2. a genuinely wrong computation in MicroPython: same calls with the nonce's last byte changed
    wrong = []
    for call, _ in cases[:20]:
        call = json.loads(json.dumps(call))
        nonce = bytearray(bytes.fromhex(call[1][1][2:]))
        nonce[-1] ^= 1
        call[1][1] = H(nonce)
        wrong.append(call)
    p = run_mp("unix", [os.path.join(diff_tmp, "mc_diff_driver.py"), "metercrypto"],
               input_data="".join(json.dumps(c) + "\n" for c in wrong))
    got = [json.loads(line) for line in p.stdout.splitlines()[:-1]]
    assert len(got) == 20
    nonempty = [i for i, (c, _) in enumerate(cases[:20]) if c[1][2] not in ("h:", "w:")]
    assert nonempty and len(compare(cases[:20], got)) == len(nonempty)
    # 3. a truncated result list
    assert compare(cases, good[:-1])


def test_diff_examples_cover_edges():
    """The generated inputs include the edge cases that matter (not just random middles)."""
    c = all_cases()
    assert any(call[1][2] == "h:" for call, _ in c["ctr"])  # empty data
    assert any(len(call[1][1]) == 2 + 2 * 12 for call, _ in c["gcm_encrypt"] if call[0] == "gcm_encrypt")
    assert any(len(call[1][1]) != 2 + 2 * 12 for call, _ in c["gcm_encrypt"] if call[0] == "gcm_encrypt")
    assert any(w[0] == "exc" for _, w in c["gcm_decrypt"])
    assert any(w[0] == "ok" for call, w in c["3of6"] if call[0] == "decode_3of6")
    assert any(w[0] == "exc" for call, w in c["3of6"] if call[0] == "decode_3of6")
    key_lens = {len(call[1][0]) for call, _ in c["cbc"]}
    assert key_lens == {2 + 32, 2 + 48, 2 + 64}
    verdicts = [w[1] for _, w in c["ed25519"]]
    assert verdicts.count(True) > 100 and verdicts.count(False) > 50
    assert any(call[1][1] == "h:" for call, _ in c["ed25519"])  # empty message
    assert any(call[1][1] == "h:" for call, _ in c["des"])  # empty data
