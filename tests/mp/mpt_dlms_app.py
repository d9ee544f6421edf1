# DLMS application layer: AARQ/AARE (byte vectors from the Green Book and gurux traces), LLS,
# HLS-GMAC with glo-ciphering, lockout, GET/SET/ACTION with blocks and every error path,
# selective access, key transfer. The client side is built in the test (dlms_client.py) and the
# GCM on the client side is computed here with metercrypto's one-shot calls (a different code
# path from the server's in-place _into calls; the CPython test checks both against
# `cryptography`).
import gc
import struct

import metercrypto as mc
from mptest import raises, eq, is32
import dlms_client as C
from dlms_harness import H, M
from meter.cores.dlms import axdr, actions as X, objects as O
from meter.cores.dlms.security import key_unwrap

CLOCK = bytes((0, 0, 1, 0, 0, 255))
TEXT = bytes((0, 0, 96, 13, 0, 255))
VOLT = bytes((1, 0, 32, 7, 0, 255))
ENERGY = bytes((1, 0, 1, 8, 0, 255))
PG = bytes((1, 0, 99, 1, 0, 255))
DC = bytes((0, 0, 96, 3, 10, 255))
SS = bytes((0, 0, 43, 0, 0, 255))
ASSOC = bytes((0, 0, 40, 0, 0, 255))

# gurux trace: AARQ of a public client, no authentication, conformance 007E1F, PDU 0x04B0
AARQ_PUBLIC = bytes.fromhex("601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0")
# our answer, written out from the Green Book AARE layout: accepted, acse-service-user null,
# InitiateResponse: version 6, conformance 001A1D (the intersection), PDU 0x0400, VAA 0x0007
AARE_PUBLIC = bytes.fromhex("6129A109060760857405080101A203020100A305A103020100"
                            "BE10040E0800065F1F0400001A1D04000007")
# Green Book example: LLS AARQ, password "12345678"
AARQ_LLS = bytes.fromhex("6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
                         "BE10040E01000000065F1F0400007E1F04B0")


def public():
    h = H()
    eq(h.x(AARQ_PUBLIC), AARE_PUBLIC)
    return h


def test_aare_public_vector():
    h = public()
    eq([a for a in h.acts if a[0] == X.EVENT], [(X.EVENT, X.EV_ASSOCIATED, 16, 0)])
    eq(h.x(C.rlrq()), b"\x63\x03\x80\x01\x00")
    eq(h.x(C.get(8, CLOCK, 2)), b"\xd8\x01\x01")  # released: service-not-allowed


def test_aarq_lls():
    h = H()
    r = C.parse_aare(h.x(AARQ_LLS, 1))
    eq((r["result"], r["source"], r["diag"]), (0, 0xA1, 0))
    bad = AARQ_LLS.replace(b"12345678", b"12345679")
    r = C.parse_aare(h.x(bad, 1))
    eq((r["result"], r["diag"]), (1, 13))
    # refused association: nothing served
    eq(h.x(C.get(8, CLOCK, 2), 1), b"\xd8\x01\x01")


def test_aare_rejections():
    h = H()

    def rej(apdu, sap=16):
        return C.parse_aare(h.x(apdu, sap))
    r = rej(AARQ_PUBLIC, 32)
    eq((r["result"], r["diag"]), (1, 1))  # unknown client SAP
    r = rej(C.aarq(context=3), 16)
    eq((r["result"], r["diag"]), (1, 2))  # public: no ciphered context
    r = rej(C.aarq(context=9), 16)
    eq((r["result"], r["diag"]), (1, 2))
    r = rej(C.aarq(mech=5, title=b"ABCDEFGH", auth=b"12345678"), 16)
    eq((r["result"], r["diag"]), (1, 11))  # public: mechanism not allowed
    r = rej(C.aarq(), 1)
    eq((r["result"], r["diag"]), (1, 12))  # management: mechanism required
    r = rej(C.aarq(context=3, mech=5, auth=b"12345678"), 1)
    eq((r["result"], r["diag"]), (1, 3))  # no calling-AP-title
    r = rej(C.aarq(ui=C.initiate_request(version=5)))
    eq((r["result"], r["diag"], r["ui"]), (1, 1, b"\x0e\x01\x06\x01"))
    r = rej(C.aarq(ui=C.initiate_request(pdu=8)))
    eq(r["ui"], b"\x0e\x01\x06\x03")
    r = rej(C.aarq(ui=C.initiate_request(conf=0x400000)))
    eq(r["ui"], b"\x0e\x01\x06\x02")
    r = rej(C.aarq(ui=b"\x01\x00"))
    eq(r["ui"], b"\x0e\x01\x06\x00")
    r = rej(b"\x60\x05\xa1\x09\x06\x07")
    eq(r["result"], 1)
    eq(h.x(C.get(8, CLOCK, 2)), b"\xd8\x01\x01")


def test_lockout_and_persistence():
    h = H()
    bad = AARQ_LLS.replace(b"12345678", b"xxxxxxxx")
    for i in range(3):
        r = C.parse_aare(h.x(bad, 1))
        eq(r["diag"], 13)
        stores = h.kinds(X.STORE)
        # the counter is stored before the answer is built (first action)
        eq(h.acts[0][0:2], (X.STORE, "lockout"))
    eq([a for a in h.acts if a[0] == X.EVENT][-1], (X.EVENT, X.EV_LOCKOUT, 60, 0))
    # locked: even the right password is not checked
    r = C.parse_aare(h.x(AARQ_LLS, 1))
    eq((r["result"], r["diag"]), (2, 1))
    # the public client is not locked out
    eq(h.x(AARQ_PUBLIC), AARE_PUBLIC)
    rec = h.lock.dump(h.now)
    eq(rec[0], 1)
    eq(rec[4] | (rec[5] << 8), 60)
    # restored after a restart (another tick base), the lockout goes on for the remaining time
    h2 = H(now=5000000)
    h2.lock.load(rec)
    r = C.parse_aare(h2.x(AARQ_LLS, 1))
    eq(r["result"], 2)
    h2.now += 61000
    r = C.parse_aare(h2.x(AARQ_LLS, 1))
    eq((r["result"], r["diag"]), (0, 0))
    eq(h2.lock.fails, 0)
    raises(ValueError, h2.lock.load, b"\x02" + bytes(7))
    # the next lockout doubles
    h.now += 61000
    for i in range(3):
        h.x(bad, 1)
    eq([a for a in h.acts if a[0] == X.EVENT][-1], (X.EVENT, X.EV_LOCKOUT, 120, 0))


def gcm(key, iv, aad, pt):
    ct, tag = mc.gcm_encrypt(key, iv, aad, pt, 12)
    return ct + tag


def glo(tag, ic, apdu, sc=0x30):
    iv = M.CLIENT_TITLE + struct.pack(">I", ic)
    if sc == 0x30:
        body = gcm(M.EK, iv, bytes((sc,)) + M.AK, apdu)
    else:
        body = apdu + gcm(M.EK, iv, bytes((sc,)) + M.AK + apdu, b"")
    c = bytes((sc,)) + struct.pack(">I", ic) + body
    return bytes((tag, len(c))) + c if len(c) < 128 else bytes((tag, 0x81, len(c))) + c


def unglo(b, title=M.SERVER_TITLE):
    """-> (tag, sc, ic, plaintext) of a glo-APDU from the server."""
    tag = b[0]
    n, p = axdr.read_length(b, 1, len(b))
    eq(p + n, len(b))
    sc = b[p]
    ic = struct.unpack(">I", b[p + 1:p + 5])[0]
    iv = title + b[p + 1:p + 5]
    ct, t = b[p + 5:-12], b[-12:]
    pt = mc.gcm_decrypt(M.EK, iv, bytes((sc,)) + M.AK, ct, t)
    return tag, sc, ic, pt


def gmac_assoc(h, ic=100):
    ctos = b"K56iVagY"
    ui = glo(0x21, ic, C.initiate_request())
    r = C.parse_aare(h.x(C.aarq(context=3, mech=5, title=M.CLIENT_TITLE, auth=ctos, ui=ui), 1))
    eq((r["result"], r["diag"], r["title"], r["mech"]), (0, 14, M.SERVER_TITLE, 5))
    stoc = r["stoc"]
    eq(len(stoc), 16)
    tag, sc, sic, pt = unglo(r["ui"])
    eq((tag, sc), (0x28, 0x30))
    eq(pt, bytes.fromhex("0800065F1F040000181D04000007"[:12]) + pt[6:])  # InitiateResponse
    eq(pt[0], 0x08)
    return ctos, stoc, sic


def f_gmac(title, ic, challenge):
    iv = title + struct.pack(">I", ic)
    t = mc.gcm_encrypt(M.EK, iv, b"\x10" + M.AK + challenge, b"", 12)[1]
    return b"\x10" + struct.pack(">I", ic) + t


def test_hls_gmac_exchange():
    h = H()
    ctos, stoc, sic = gmac_assoc(h)
    # pending: nothing but the HLS reply
    r = unglo(h.x(glo(0xC8, 101, C.get(8, CLOCK, 2)), 1))[3]
    eq(r, b"\xc4\x01\xc1\x01\x03")
    act = C.action(15, ASSOC, 1, C.octets(f_gmac(M.CLIENT_TITLE, 102, stoc)))
    tag, sc, ic, pt = unglo(h.x(glo(0xCB, 103, act), 1))
    eq(tag, 0xCF)
    assert ic > sic
    eq(pt[:6], b"\xc7\x01\xc1\x00\x01\x00")  # success, return data
    eq(pt[6:8], b"\x09\x11")
    resp = pt[8:]
    eq(resp, f_gmac(M.SERVER_TITLE, struct.unpack(">I", resp[1:5])[0], ctos))
    assert [a for a in h.acts if a[0] == X.EVENT and a[1] == X.EV_ASSOCIATED]
    # associated: ciphered GET and SET work; the response carries the request's SC
    tag, sc, ic2, pt = unglo(h.x(glo(0xC8, 104, C.get(1, TEXT, 2)), 1))
    eq((tag, sc, pt), (0xCC, 0x30, b"\xc4\x01\xc1\x00\x09\x05hello"))
    assert ic2 > ic
    tag, sc, _, pt = unglo(h.x(glo(0xC9, 105, C.set_(1, TEXT, 2, C.octets(b"new"))), 1))
    eq((tag, pt), (0xCD, b"\xc5\x01\xc1\x00"))
    eq(h.state["text"], b"new")
    # authenticated-only request (SC 0x10) is accepted and answered the same way
    r = h.x(glo(0xC8, 106, C.get(1, TEXT, 2), sc=0x10), 1)
    eq(r[2], 0x10)
    # replay: the same IC again
    eq(h.x(glo(0xC9, 105, C.set_(1, TEXT, 2, C.octets(b"replay"))), 1), b"\xd8\x01\x06\x00\x00\x00\x6b")
    eq(h.state["text"], b"new")
    assert [a for a in h.acts if a[0] == X.EVENT and a[1] == X.EV_REPLAY]
    # a flipped bit: deciphering error, nothing changes
    g = bytearray(glo(0xC9, 200, C.set_(1, TEXT, 2, C.octets(b"tamper"))))
    g[10] ^= 1
    eq(h.x(g, 1), b"\xd8\x01\x05")
    eq(h.state["text"], b"new")
    # plain APDUs are refused in a ciphered association
    eq(h.x(C.set_(1, TEXT, 2, C.octets(b"plain")), 1), b"\xd8\x01\x01")
    eq(h.state["text"], b"new")
    # encryption without authentication (SC 0x20) is refused
    eq(h.x(b"\xc8\x0a\x20\x00\x00\x01\x00" + b"abc", 1), b"\xd8\x01\x05")
    # general-glo-ciphering with the client's system title
    c = glo(0x00, 300, C.get(1, TEXT, 2))[2:]
    r = h.x(b"\xdb\x08" + M.CLIENT_TITLE + bytes((len(c),)) + c, 1)
    eq(r[0:10], b"\xdb\x08" + M.SERVER_TITLE)
    tag, sc, _, pt = unglo(b"\xcc" + r[10:])
    eq(pt, b"\xc4\x01\xc1\x00\x09\x03new")
    # the server IC reservation was stored before use
    stores = [a for a in h.acts if a[0] == X.STORE and a[1] == "tx_ic"]
    assert h.sec.tx_ic <= h.sec.tx_reserved


def test_hls_gmac_wrong_reply():
    h = H()
    ctos, stoc, sic = gmac_assoc(h)
    act = C.action(15, ASSOC, 1, C.octets(f_gmac(M.CLIENT_TITLE, 102, stoc[:-1] + b"\x00")))
    pt = unglo(h.x(glo(0xCB, 103, act), 1))[3]
    eq(pt, b"\xc7\x01\xc1\x03\x00")  # read-write-denied, no data
    assert [a for a in h.acts if a[0] == X.EVENT and a[1] == X.EV_AUTH_FAIL]
    # released: nothing more is served
    eq(h.x(glo(0xC8, 104, C.get(1, TEXT, 2)), 1), b"\xd8\x01\x01")
    # a glo-initiate-request with a bad tag is an authentication failure
    ui = bytearray(glo(0x21, 500, C.initiate_request()))
    ui[-1] ^= 1
    r = C.parse_aare(h.x(C.aarq(context=3, mech=5, title=M.CLIENT_TITLE, auth=b"abcdefgh", ui=bytes(ui)), 1))
    eq((r["result"], r["diag"], r["ui"]), (1, 1, b"\x0e\x01\x06\x00"))
    eq(h.lock.fails, 2)


def test_get_services():
    h = public()
    eq(h.x(C.get(3, VOLT, 2)), b"\xc4\x01\xc1\x00\x12\x08\xfd")
    eq(h.x(C.get(3, VOLT, 3)), b"\xc4\x01\xc1\x00\x02\x02\x0f\xff\x16\x23")
    eq(h.x(C.get(3, VOLT, 1, iid=0x42)), b"\xc4\x01\x42\x00\x09\x06" + VOLT)
    eq(h.x(C.get(3, b"\x01\x00\x63\x63\x00\xff", 2)), b"\xc4\x01\xc1\x01\x04")  # object-undefined
    eq(h.x(C.get(1, VOLT, 2)), b"\xc4\x01\xc1\x01\x09")  # object-class-inconsistent
    eq(h.x(C.get(3, VOLT, 9)), b"\xc4\x01\xc1\x01\x04")  # no such attribute
    eq(h.x(C.get(64, SS, 2)), b"\xc4\x01\xc1\x01\x04")  # invisible to the public client
    eq(h.x(C.get(15, ASSOC, 7)), b"\xc4\x01\xc1\x01\x03")  # secret: write-only
    eq(h.x(C.get(15, ASSOC, 8)), b"\xc4\x01\xc1\x00\x16\x02")
    r = h.x(C.get_list([(3, VOLT, 2), (3, b"\x01\x00\x63\x63\x00\xff", 2), (1, TEXT, 2)]))
    eq(r, b"\xc4\x03\xc1\x03\x00\x12\x08\xfd\x01\x04\x00\x09\x05hello")
    # exception responses for what is not a request we serve
    eq(h.x(b"\xc0\x01\xc1\x00\x03"), b"\xd8\x02\x03")  # truncated descriptor
    eq(h.x(C.get(3, VOLT, 2) + b"\x00"), b"\xd8\x02\x03")  # trailing byte
    eq(h.x(b"\xc0\x07\xc1"), b"\xd8\x02\x02")  # unknown GET variant
    eq(h.x(b"\xd0\x01\x02"), b"\xd8\x02\x02")  # ded-get: not supported
    eq(h.x(b"\xc3\x02\xc1"), b"\xd8\x02\x02")  # action next pblock: not supported


def blocks(h, first, max_blocks=10000):
    """Collect a GET block transfer; -> (data, block count)."""
    r = first
    data = b""
    k = 0
    while True:
        eq(r[:2], b"\xc4\x02")
        last = r[3]
        no = struct.unpack(">I", r[4:8])[0]
        eq(no, k + 1)
        eq(r[8], 0, r[:12])
        n, p = axdr.read_length(r, 9, len(r))
        eq(p + n, len(r))
        data += r[p:]
        k += 1
        if last:
            return data, k
        r = h.x(C.get_next(no))


def test_get_blocks_and_errors():
    h = H(max_pdu=128)
    h.x(C.aarq(ui=C.initiate_request(pdu=100)))
    data, k = blocks(h, h.x(C.get(7, PG, 2)))
    assert k > 200
    v = axdr.decode_all(data, 0, len(data), 10000)
    eq(len(v[1]), 1000)
    rows = M.Profile()
    eq(v[1][999][1], list(rows.row(999)))
    eq(v[1][0][1][0], rows.row(0)[0])
    # every block fits the client's PDU
    r = h.x(C.get(7, PG, 2))
    assert len(r) <= 100
    # wrong block number: data-block-number-invalid, transfer abandoned
    eq(h.x(C.get_next(5)), b"\xc4\x02\xc1\x01\x00\x00\x00\x05\x01\x13")
    eq(h.x(C.get_next(1)), b"\xc4\x02\xc1\x01\x00\x00\x00\x01\x01\x10")  # none in progress
    h.x(C.get(7, PG, 2))
    eq(h.x(C.get_next(1, iid=0xC2)), b"\xc4\x02\xc2\x01\x00\x00\x00\x01\x01\x0f")  # other invoke-id
    # the object list arrives in blocks too and lists what the public client may do
    data, k = blocks(h, h.x(C.get(15, ASSOC, 2)))
    ol = axdr.decode_all(data, 0, len(data), 10000)
    lns = [e[1][2][1] for e in ol[1]]
    assert ASSOC in lns and PG in lns and SS not in lns
    for e in ol[1]:
        if e[1][2][1] == TEXT:
            eq(e[1][3][1][0][1][1][1][1], (axdr.ENUM, O.READ))  # attribute 2: read only
    # with-list that does not fit: blocks
    items = [(3, VOLT, 2), (1, TEXT, 2), (7, PG, 3)] * 5
    data, k = blocks(h, h.x(C.get_list(items)))
    assert k > 1
    n, p = axdr.read_length(data, 0, len(data))
    eq(n, 15)


def test_set_services():
    h = H()
    h.x(AARQ_LLS, 1)
    eq(h.x(C.set_(1, TEXT, 2, C.octets(b"abc")), 1), b"\xc5\x01\xc1\x00")
    eq(h.state["text"], b"abc")
    eq(h.x(C.set_(1, TEXT, 2, C.u32(5)), 1), b"\xc5\x01\xc1\x0c")  # the setter refuses the type
    eq(h.x(C.set_(1, TEXT, 2, b"\x09\x05ab"), 1), b"\xc5\x01\xc1\x0c")  # truncated value
    eq(h.x(C.set_(1, TEXT, 2, b"\x01\x01" * 20 + b"\x00"), 1), b"\xc5\x01\xc1\x0c")  # too deep
    eq(h.x(C.set_(3, ENERGY, 2, C.u32(0)), 1), b"\xc5\x01\xc1\x03")  # read-only
    eq(h.x(C.set_(3, ENERGY, 1, C.octets(bytes(6))), 1), b"\xc5\x01\xc1\x03")
    eq(h.state["text"], b"abc")
    assert [a for a in h.acts if a[0] == X.EVENT] == []
    # SET with data blocks: value split in three
    val = C.octets(b"0123456789" * 5)
    b1 = bytes((0xC1, 2, 0xC1)) + C.desc(1, TEXT, 2) + b"\x00" + b"\x00" + struct.pack(">I", 1) + bytes((20,)) + val[:20]
    eq(h.x(b1, 1), b"\xc5\x02\xc1\x00\x00\x00\x01")
    b2 = bytes((0xC1, 3, 0xC1, 0)) + struct.pack(">I", 2) + bytes((20,)) + val[20:40]
    eq(h.x(b2, 1), b"\xc5\x02\xc1\x00\x00\x00\x02")
    b3 = bytes((0xC1, 3, 0xC1, 1)) + struct.pack(">I", 3) + bytes((len(val) - 40,)) + val[40:]
    eq(h.x(b3, 1), b"\xc5\x03\xc1\x00\x00\x00\x00\x03")
    eq(h.state["text"], b"0123456789" * 5)
    # wrong block number / invoke-id / none in progress
    eq(h.x(b1, 1), b"\xc5\x02\xc1\x00\x00\x00\x01")
    eq(h.x(b3, 1), b"\xc5\x03\xc1\x13\x00\x00\x00\x03")
    eq(h.x(b2, 1), b"\xc5\x03\xc1\x12\x00\x00\x00\x02")
    h.x(b1, 1)
    eq(h.x(b2[:2] + b"\xc3" + b2[3:], 1), b"\xc5\x03\xc3\x11\x00\x00\x00\x02")
    eq(h.state["text"], b"0123456789" * 5)
    # the public client may not start one
    h2 = public()
    eq(h2.x(b1), b"\xc5\x03\xc1\x03\x00\x00\x00\x01")
    # SET with-list
    wl = bytes((0xC1, 4, 0xC1, 2)) + C.desc(1, TEXT, 2) + b"\x00" + C.desc(3, ENERGY, 2) + b"\x00" + \
        b"\x02" + C.octets(b"L") + C.u32(1)
    eq(h.x(wl, 1), b"\xc5\x05\xc1\x02\x00\x03")
    eq(h.state["text"], b"L")


def test_action_and_selective_access():
    h = H()
    h.x(AARQ_LLS, 1)
    eq(h.x(C.action(70, DC, 1, b"\x0f\x00"), 1), b"\xc7\x01\xc1\x00\x00")
    eq(h.state["relay"], False)
    eq(h.x(C.action(70, DC, 2, b"\x0f\x00"), 1), b"\xc7\x01\xc1\x00\x00")
    eq(h.state["relay"], True)
    eq(h.x(C.action(70, DC, 3), 1), b"\xc7\x01\xc1\x04\x00")  # no such method
    eq(h.x(C.action(70, DC, 1, b"\x09\x05"), 1), b"\xc7\x01\xc1\x0c\x00")  # parameters do not decode
    eq(h.x(C.action(70, DC, 1, b"\x12\x00\x00"), 1), b"\xc7\x01\xc1\x0c\x00")  # wrong type
    eq(h.state["relay"], True)
    p = public()
    eq(p.x(C.action(70, DC, 1, b"\x0f\x00")), b"\xc7\x01\xc1\x03\x00")
    eq(p.state["relay"], True)
    # entry descriptor: entries 3..4, columns 3..4 (import, export)
    ed = C.structure(C.u32(3), C.u32(4), C.u16(3), C.u16(4))
    r = p.x(C.get(7, PG, 2, sel=(2, ed)))
    v = axdr.decode_all(r, 4, len(r))
    eq(v, (1, [(2, [(6, 1000000 + 37 * i), (6, 5 * i)]) for i in (2, 3)]))
    # beyond the buffer: an empty array
    r = p.x(C.get(7, PG, 2, sel=(2, C.structure(C.u32(2000), C.u32(0), C.u16(1), C.u16(0)))))
    eq(r, b"\xc4\x01\xc1\x00\x01\x00")
    # range on the clock column: 2024-12-31 12:00..12:30 local -> three entries
    def dt(h_, m_):
        return C.octets(bytes((0x07, 0xE8, 12, 31, 0xFF, h_, m_, 0, 0, 0x80, 0, 0)))
    clockdef = C.structure(C.u16(8), C.octets(CLOCK), b"\x0f\x02", C.u16(0))
    rd = C.structure(clockdef, dt(12, 0), dt(12, 30), C.array(C.structure(C.u16(3), C.octets(ENERGY), b"\x0f\x02", C.u16(0))))
    r = p.x(C.get(7, PG, 2, sel=(1, rd)))
    v = axdr.decode_all(r, 4, len(r))
    eq(v, (1, [(2, [(6, 1000000 + 37 * i)]) for i in (947, 948, 949)]))
    eq(p.x(C.get(7, PG, 2, sel=(3, b"\x00"))), b"\xc4\x01\xc1\x01\x0d")  # selector 3
    eq(p.x(C.get(7, PG, 2, sel=(2, C.u32(1)))), b"\xc4\x01\xc1\x01\x0c")  # wrong shape
    bad = C.structure(C.structure(C.u16(3), C.octets(VOLT), b"\x0f\x02", C.u16(0)), dt(1, 0), dt(2, 0), C.array())
    eq(p.x(C.get(7, PG, 2, sel=(1, bad))), b"\xc4\x01\xc1\x01\x0b")  # not a capture object
    eq(p.x(C.get(3, VOLT, 2, sel=(1, b"\x00"))), b"\xc4\x01\xc1\x01\x0d")  # no selectors there


def wrap_ref(kek, key):
    """RFC 3394 2.2.1 key wrap, written here for the test."""
    n = len(key) // 8
    a = b"\xa6" * 8
    r = [key[8 * i:8 * i + 8] for i in range(n)]
    for j in range(6):
        for i in range(n):
            b = mc.ecb_encrypt(kek, a + r[i])
            t = n * j + i + 1
            a = bytes(b[k] ^ ((t >> (8 * (7 - k))) & 255) for k in range(8))
            r[i] = b[8:]
    return a + b"".join(r)


def test_key_unwrap_vectors():
    # RFC 3394 4.1: 128-bit key data with a 128-bit KEK
    kek = bytes(range(16))
    w = bytes.fromhex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5")
    eq(key_unwrap(kek, w), bytes.fromhex("00112233445566778899AABBCCDDEEFF"))
    eq(wrap_ref(kek, bytes.fromhex("00112233445566778899AABBCCDDEEFF")), w)
    bad = bytearray(w)
    bad[5] ^= 1
    e = raises(ValueError, key_unwrap, kek, bytes(bad))
    assert "00112233" not in str(e)
    raises(ValueError, key_unwrap, kek, w[:20])


def test_global_key_transfer():
    h = H()
    h.x(AARQ_LLS, 1)
    new_ek = bytes(range(0x40, 0x50))
    new_ak = bytes(range(0x60, 0x70))
    arg = C.array(C.structure(b"\x16\x00", C.octets(wrap_ref(M.KEK, new_ek))),
                  C.structure(b"\x16\x02", C.octets(wrap_ref(M.KEK, new_ak))))
    eq(h.x(C.action(64, SS, 2, arg), 1), b"\xc7\x01\xc1\x00\x00")
    eq(h.kinds(X.NEW_KEY), [(X.NEW_KEY, 0, new_ek), (X.NEW_KEY, 2, new_ak)])
    # one bad wrap: nothing is applied
    arg = C.array(C.structure(b"\x16\x00", C.octets(wrap_ref(M.KEK, new_ek))),
                  C.structure(b"\x16\x02", C.octets(wrap_ref(M.AK, new_ak))))
    eq(h.x(C.action(64, SS, 2, arg), 1), b"\xc7\x01\xc1\xfa\x00")
    eq(h.kinds(X.NEW_KEY), [])
    eq(h.x(C.action(64, SS, 2, C.array(C.structure(b"\x16\x03", C.octets(bytes(24))))), 1),
       b"\xc7\x01\xc1\x0c\x00")
    # the public client cannot see the object at all
    p = public()
    eq(p.x(C.action(64, SS, 2, arg)), b"\xc7\x01\xc1\x04\x00")
    # keys never appear in repr
    eq(repr(h.keys), "<Keys>")


def test_heap_per_register_get():
    h = public()
    req = bytearray(C.get(3, ENERGY, 2))
    acts = []
    h.app.handle(req, 0, len(req), 16, 0, acts)
    gc.collect()
    a0 = gc.mem_alloc()
    for i in range(20):
        del acts[:]
        h.app.handle(req, 0, len(req), 16, 0, acts)
    per = (gc.mem_alloc() - a0) // 20
    print("heap per register GET: %d bytes" % per)
    assert per < 1024, per
