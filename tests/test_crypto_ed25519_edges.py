"""Ed25519 verification edge cases (Wycheproof style), built here in CPython with a small
independent point arithmetic (affine twisted Edwards, RFC 8032 5.1), and checked in every
target (unix, unix32, natmod-x64) through the differential driver of test_crypto_diff.py.

What metercrypto.ed25519_verify must do (README "Ed25519: what is checked"):
- reject S >= L (S + L, S = L) even where the equation would hold modulo L;
- reject a non-canonical A or R (y >= p; x = 0 with the sign bit set), a y with no x, and a
  small-order A or R, even where a lax verifier's equation holds;
- use the cofactorless equation [S]B = R + [k]A: with a mixed-order key A = [a]B + T8 the
  signature verifies exactly when [k]T8 is the identity (k = 0 mod 8);
- raise ValueError for wrong lengths.
Where `cryptography` (OpenSSL) has an opinion it is asked too, for the cases where RFC 8032
leaves no choice (valid signatures, S >= L, a point not on the curve).
"""
import hashlib
import json
import os
import random

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import run_mp
from crypto_support import TARGETS, ensure_natmod_x64
from test_crypto_diff import DRIVER, H

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRTM1 = pow(2, (P - 1) // 4, P)
IDENT = (0, 1)


def inv(x):
    return pow(x, P - 2, P)


def add(p, q):
    (x1, y1), (x2, y2) = p, q
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + x2 * y1) * inv(1 + t) % P, (y1 * y2 + x1 * x2) * inv(1 - t) % P)


def mul(n, p):
    r = IDENT
    while n:
        if n & 1:
            r = add(r, p)
        p = add(p, p)
        n >>= 1
    return r


def x_of(y, sign):
    xx = (y * y - 1) * inv(D * y * y + 1) % P
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P:
        x = x * SQRTM1 % P
    if (x * x - xx) % P:
        return None
    return P - x if (x & 1) != sign and x else x


BY = 4 * inv(5) % P
B = (x_of(BY, 0), BY)


def enc(p, y_offset=0, force_sign=None):
    x, y = p
    sign = (x & 1) if force_sign is None else force_sign
    return ((y + y_offset) | sign << 255).to_bytes(32, "little")


def challenge(r_bytes, a_bytes, msg):
    return int.from_bytes(hashlib.sha512(r_bytes + a_bytes + msg).digest(), "little") % L


def sign_with_scalar(a, msg, a_bytes=None, r_point=None, r_bytes=None):
    """A signature for public key [a]B (or the given encoding of it): R = [r]B, S = r + k a."""
    a_bytes = a_bytes or enc(mul(a, B))
    r = random.Random(msg + a_bytes).randrange(1, L)
    r_point = r_point if r_point is not None else mul(r, B)
    r_bytes = r_bytes or enc(r_point)
    k = challenge(r_bytes, a_bytes, msg)
    base = r if r_point == mul(r, B) else 0
    return a_bytes, r_bytes + ((base + k * a) % L).to_bytes(32, "little")


def small_order_points():
    """The 8 points of order dividing 8: [L]Q for points Q until all are found."""
    found = {IDENT}
    y = 2
    while len(found) < 8:
        x = x_of(y, 0)
        if x is not None:
            found.add(mul(L, (x, y)))
        y += 1
    return sorted(found)


def oracle(pk, msg, sig):
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


def build_cases():
    """(description, pk, msg, sig, expected result: True/False or an exception name)."""
    cases = []
    rnd = random.Random(8032)
    a = rnd.randrange(1, L)
    A = mul(a, B)
    msg = b"firmware manifest v1"
    pk, sig = sign_with_scalar(a, msg)
    assert oracle(pk, msg, sig)
    cases.append(("valid", pk, msg, sig, True))
    s = int.from_bytes(sig[32:], "little")
    cases.append(("S + L", pk, msg, sig[:32] + (s + L).to_bytes(32, "little"), False))
    cases.append(("S = L", pk, msg, sig[:32] + L.to_bytes(32, "little"), False))
    cases.append(("S = 2^256 - 1", pk, msg, sig[:32] + b"\xff" * 32, False))
    for bit in (0, 7, 100, 255, 256, 300, 511):
        bad = bytearray(sig)
        bad[bit >> 3] ^= 1 << (bit & 7)
        cases.append(("signature bit %d" % bit, pk, msg, bytes(bad), False))
    for bit in (0, 254, 255):
        bad = bytearray(pk)
        bad[bit >> 3] ^= 1 << (bit & 7)
        cases.append(("key bit %d" % bit, bytes(bad), msg, sig, False))
    cases.append(("wrong message", pk, msg + b"!", sig, False))

    # Small-order A: with A of order 8 or less, [k]A is in the torsion subgroup; with A the
    # identity any (R = [r]B, S = r) satisfies the equation. Must be refused.
    small = small_order_points()
    assert len(small) == 8 and all(mul(8, q) == IDENT for q in small)
    for q in small:
        a_bytes = enc(q)
        r = rnd.randrange(1, L)
        r_bytes = enc(mul(r, B))
        k = challenge(r_bytes, a_bytes, msg)
        # Valid under the equation whenever [k]q is the identity: choose S = r, and use q only
        # when [k]q = O (always for the identity).
        ok_eq = mul(k, q) == IDENT
        cases.append(("small-order A %s%s" % (a_bytes.hex()[:8], " (equation holds)" if ok_eq else ""),
                      a_bytes, msg, r_bytes + r.to_bytes(32, "little"), False))
    # Non-canonical encodings of A: the identity as y = 1 + p; with the sign bit set and x = 0.
    ident_nc = enc(IDENT, y_offset=P)
    r = rnd.randrange(1, L)
    rb = enc(mul(r, B))
    cases.append(("A = identity, y + p", ident_nc, msg, rb + r.to_bytes(32, "little"), False))
    cases.append(("A = identity, sign bit", enc(IDENT, force_sign=1), msg, rb + r.to_bytes(32, "little"), False))
    # A valid large-order point with a small y encoded non-canonically (y + p < 2^255).
    for y in range(2, 19):
        x = x_of(y, 0)
        if x is not None and mul(8, (x, y)) != IDENT:
            cases.append(("A non-canonical y = %d + p" % y, enc((x, y), y_offset=P), msg, sig, False))
            break
    # A y with no x on the curve (not a point).
    y = 2
    while x_of(y, 0) is not None:
        y += 1
    off_curve = y.to_bytes(32, "little")
    cases.append(("A not on the curve", off_curve, msg, sig, False))
    assert not oracle(off_curve, msg, sig)

    # R = identity: [S]B = R + [k]A holds with S = k a. Canonical R: small order, refused;
    # non-canonical R (y = 1 + p): refused.
    for desc, r_bytes in (("R = identity", enc(IDENT)), ("R = identity, y + p", ident_nc)):
        k = challenge(r_bytes, pk, msg)
        cases.append((desc, pk, msg, r_bytes + (k * a % L).to_bytes(32, "little"), False))
    # R = A valid point encoded with y + p: a lax decoder would read the same R.
    r_point = None
    for y in range(2, 19):
        x = x_of(y, 0)
        if x is not None and mul(8, (x, y)) != IDENT:
            r_point = (x, y)
            break
    if r_point is not None:
        # S for this R would need its discrete log: instead check that it is refused outright.
        cases.append(("R non-canonical y + p", pk, msg, enc(r_point, y_offset=P) + sig[32:], False))

    # Mixed-order key A' = A + T8 (T8 of order 8): cofactorless verification accepts exactly
    # when [k]T8 = O, i.e. k = 0 mod 8; try messages until both kinds are present.
    t8 = next(q for q in small if mul(4, q) != IDENT)
    mixed = add(A, t8)
    mixed_bytes = enc(mixed)
    kinds = {}
    i = 0
    while len(kinds) < 2 or sum(len(v) for v in kinds.values()) < 6:
        m = b"mixed %d" % i
        i += 1
        r = rnd.randrange(1, L)
        rb = enc(mul(r, B))
        k = challenge(rb, mixed_bytes, m)
        want = mul(k, t8) == IDENT
        if len(kinds.get(want, [])) < 3:
            kinds.setdefault(want, []).append(m)
            cases.append(("mixed-order A, k mod 8 = %d" % (k % 8), mixed_bytes, m,
                          rb + ((r + k * a) % L).to_bytes(32, "little"), want))
    # Wrong lengths.
    for n in (0, 31, 33):
        cases.append(("key length %d" % n, bytes(n), msg, sig, "ValueError"))
    for n in (0, 63, 65):
        cases.append(("signature length %d" % n, pk, msg, bytes(n), "ValueError"))
    return cases


CASES = build_cases()


def test_cases_agree_with_cryptography_where_rfc8032_is_unambiguous():
    # The reference side itself: a valid signature, S >= L, bit flips, a point off the curve.
    for desc, pk, msg, sig, want in CASES:
        if desc == "valid" or desc.startswith(("S ", "signature bit", "A not on", "wrong message")):
            assert oracle(pk, msg, sig) == want, desc
    # The mixed-order cases are real signatures under the cofactored equation: some fail the
    # cofactorless one only because of [k]T8.
    assert any(w is True for d, *_, w in CASES if d.startswith("mixed"))
    assert any(w is False for d, *_, w in CASES if d.startswith("mixed"))


@pytest.mark.parametrize("target", list(TARGETS))
def test_edge_cases(target, tmp_path):
    if target == "natmod-x64":
        reason = ensure_natmod_x64()
        if reason:
            pytest.skip(reason)
    interp, module, extra = TARGETS[target]
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    lines = "".join(json.dumps(["ed25519_verify", [H(pk), H(msg), H(sig)], {}]) + "\n"
                    for _, pk, msg, sig, _ in CASES)
    p = run_mp(interp, [str(script), module], extra_path=extra, input_data=lines)
    out = p.stdout.splitlines()
    assert out and out[-1] == "@@END", p.stderr[-2000:]
    bad = []
    for (desc, *_, want), line in zip(CASES, out):
        got = json.loads(line)
        expect = ["exc", want, []] if isinstance(want, str) else ["ok", want, []]
        if got != expect:
            bad.append("%s: want %s, got %s" % (desc, expect, got))
    assert len(out) - 1 == len(CASES)
    assert not bad, "\n".join(bad)
