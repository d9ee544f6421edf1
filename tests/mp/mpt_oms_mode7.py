# OMS mode 7 (KDFS 1, CMAC MAC, CBC IV 0), AFL and ELL against wmbus.json: V1 (ELL 8C + AFL +
# short TPL), V1-badmac (rejected, nothing decrypted), V2 (ELL 8E + long TPL: KDF on the TPL
# ID), V3 (format B heat meter), V12 (ELL AES-CTR with the payload CRC checked after decryption).
from mptest import eq
import oms_vectors as OV
from meter.cores.wmbus import tpl as T
from meter.cores.wmbus import ell as E
from meter.cores.wmbus import afl as A
from meter.cores.oms import mode7 as M7


V = OV.V
_frame = OV.frame


def _walk(vid, key=None):
    v = V[vid]
    b = _frame(v)
    k = bytes.fromhex(key or v["key"])
    end = len(b)
    e, a, t, m = E.Ell(), A.Afl(), T.Tpl(), M7.Mode7()
    eq(e.read(b, 10, end, k), E.OK)
    eq(a.read(b, e.next_off, end), A.OK)
    eq(t.read(b, a.next_off, end), T.OK)
    eq(t.mode, 7)
    return m.open(k, b, a, t, end), b, a, t, m


def _bcd(b, p, n):
    v = 0
    for i in range(n - 1, -1, -1):
        v = v * 100 + (b[p + i] >> 4) * 10 + (b[p + i] & 15)
    return v


def test_v1_kdf_mac_decrypt():
    r, b, a, t, m = _walk("V1")
    d = V["V1"]["derived"]
    eq(bytes(m.kenc).hex(), d["kenc"].lower())
    eq(bytes(m.kmac).hex(), d["kmac"].lower())
    eq(a.mcr, d["mcr"])
    eq(r, M7.OK)
    i = bytes(b).find(b"\x0c\x14", t.data_off)
    eq(_bcd(b, i + 2, 4), 2850427)


def test_v1_bad_mac_rejected_before_decrypt():
    v = V["V1-badmac"]
    b0 = bytes(_frame(v))
    r, b, a, t, m = _walk("V1-badmac")
    eq(r, M7.ERR_MAC)
    eq(bytes(b), b0)  # nothing decrypted


def test_v2_ell_long_tpl():
    r, b, a, t, m = _walk("V2")
    eq(t.kind, T.KIND_LONG)
    eq(r, M7.OK)
    i = bytes(b).find(b"\x0c\x14", t.data_off)
    eq(_bcd(b, i + 2, 4), 2850427)


def test_v3_format_b():
    r, b, a, t, m = _walk("V3")
    eq(r, M7.OK)


def test_wrong_key_is_bad_mac():
    r, b, a, t, m = _walk("V1", "11" * 16)
    eq(r, M7.ERR_MAC)


def test_v12_ell_ctr_crc():
    v = V["V12"]
    b = _frame(v)
    e = E.Ell()
    eq(e.read(b, 10, len(b), bytes.fromhex(v["key"])), E.OK)
    eq(e.encrypted, True)
    eq(b[e.next_off], 0x78)  # plain APL, no TPL header
    b = _frame(v)
    eq(e.read(b, 10, len(b), bytes(16)), E.ERR_CRC)
    b = _frame(v)
    eq(e.read(b, 10, len(b)), E.ERR_KEY)


def test_truncations_never_raise():
    b0 = _frame(V["V1"])
    for n in range(11, len(b0)):
        b = bytearray(b0)
        e, a, t = E.Ell(), A.Afl(), T.Tpl()
        if e.read(b, 10, n, bytes(16)) != E.OK:
            continue
        if a.read(b, e.next_off, n) != A.OK:
            continue
        if t.read(b, a.next_off, n) != T.OK:
            continue
        r = M7.Mode7().open(bytes(16), b, a, t, n)
        eq(r in (M7.ERR_MAC, M7.ERR_LENGTH), True)
