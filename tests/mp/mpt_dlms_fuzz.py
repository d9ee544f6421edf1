# Fuzz the DLMS cores inside the interpreter: >= 10^5 random and mutated inputs through the
# TCP-wrapper server and the HDLC server (framing, A-XDR, AARQ, GET/SET/ACTION, ciphered APDUs).
# Nothing may raise, nothing may change without authentication, and the server must still answer
# a valid request afterwards. Mutations flip, insert, delete and overwrite bytes of valid
# requests, set lengths to large values and nest arrays deeply.
import random
import struct

from mptest import eq
import dlms_client as C
from dlms_harness import H, M
from meter.cores.dlms import actions as X
from meter.cores.dlms.server import TcpServer, HdlcServer
from meter.cores.dlms.hdlc import Link
from dlms_client import frame

TEXT = bytes((0, 0, 96, 13, 0, 255))
PG = bytes((1, 0, 99, 1, 0, 255))
DC = bytes((0, 0, 96, 3, 10, 255))
SS = bytes((0, 0, 43, 0, 0, 255))

SEEDS = [
    C.aarq(), C.aarq(mech=1, auth=b"abcdefgh"), C.aarq(context=3, mech=5, title=b"ABCDEFGH", auth=b"abcdefgh"),
    C.get(8, bytes((0, 0, 1, 0, 0, 255)), 2), C.get(7, PG, 2), C.get_next(1), C.get_list([(1, TEXT, 2), (7, PG, 3)]),
    C.get(7, PG, 2, sel=(2, C.structure(C.u32(1), C.u32(5), C.u16(1), C.u16(0)))),
    C.set_(1, TEXT, 2, C.octets(b"fuzz")), C.action(70, DC, 1, b"\x0f\x00"),
    C.action(64, SS, 2, C.array(C.structure(b"\x16\x00", C.octets(bytes(24))))),
    C.rlrq(), b"\xc8\x10\x30" + bytes(15), b"\xdb\x08ABCDEFGH\x11\x30" + bytes(16),
    bytes((0xC1, 2, 0xC1)) + C.desc(1, TEXT, 2) + b"\x00\x00\x00\x00\x00\x01\x05" + b"\x09\x10abc",
    b"\x01\x84\xff\xff\xff\xff", b"\x01\x01" * 40,
]


def mutate(rnd, b):
    b = bytes(b)
    for _ in range(1 + rnd(2)):
        op = rnd(3)
        if not b:
            b = bytes((rnd(8),))
            continue
        i = rnd(16) % len(b)
        if op == 0:
            b = b[:i] + bytes((b[i] ^ (1 << rnd(3)),)) + b[i + 1:]
        elif op == 1:
            v = (0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff, rnd(8))[rnd(4) % 9]
            b = b[:i] + bytes((v,)) + b[i + 1:]
        elif op == 2:
            b = b[:i] + b[i + 1:]
        elif op == 3:
            b = b[:i] + bytes((rnd(8),)) + b[i:]
        elif op == 4:
            b = b[:i]
        else:
            b = b[:i] + b"\x01\x01" * (rnd(4) + 1) + b[i:]
    return b


def fuzz_rnd():
    random.seed(12345)
    g = random.getrandbits
    return g


def snapshot(h):
    return sorted(h.state.items())


def alive_public(h):
    # after the fuzz: a fresh public association still reads a register
    r = h.x(C.aarq())
    eq(r[15:17], b"\x02\x01")
    eq(r[17], 0)
    eq(h.x(C.get(3, bytes((1, 0, 1, 8, 0, 255)), 2)), b"\xc4\x01\xc1\x00\x06" + struct.pack(">I", 1234567))


def test_fuzz_application_apdus():
    rnd = fuzz_rnd()
    h = H(max_pdu=256)
    before = snapshot(h)
    n = 0
    for i in range(60000):
        seed = SEEDS[rnd(8) % len(SEEDS)]
        apdu = mutate(rnd, seed) if rnd(3) else bytes(rnd(8) for _ in range(rnd(5)))
        sap = (16, 16, 16, 1, 2)[rnd(3) % 5]
        h.x(apdu, sap)
        for a in h.acts:
            assert a[0] not in (X.NEW_KEY, X.SECRET), a
            if a[0] == X.EVENT:
                assert a[1] not in (X.EV_WRITE, X.EV_ACTION), a
        n += 1
    eq(snapshot(h), before)
    print("APDUs: %d" % n)
    alive_public(h)


def test_fuzz_wrapper_stream():
    rnd = fuzz_rnd()
    h = H(max_pdu=256)
    before = snapshot(h)
    srv = TcpServer(h.app)
    n = 0
    for i in range(25000):
        seed = SEEDS[rnd(8) % len(SEEDS)]
        apdu = mutate(rnd, seed)
        f = C.wrap(apdu, (16, 1, 5)[rnd(2) % 3])
        if rnd(3) == 0:
            f = mutate(rnd, f)
        if srv.closed:
            srv = TcpServer(h.app)
        acts = srv.receive(f, i)
        for a in acts:
            assert a[0] not in (X.NEW_KEY, X.SECRET), a
        n += 1
    eq(snapshot(h), before)
    print("wrapper frames: %d" % n)
    srv = TcpServer(h.app)
    acts = srv.receive(C.wrap(C.aarq()), 0)
    assert acts and acts[-1][0] == X.SEND


def test_fuzz_hdlc_frames():
    rnd = fuzz_rnd()
    h = H(max_pdu=256)
    before = snapshot(h)
    link = Link(upper=1, max_info=128, max_apdu=512)
    srv = HdlcServer(h.app, link)
    snrm = frame(b"\x03\x21", 0x93)
    n = 0
    vs = 0
    for i in range(25000):
        k = rnd(3)
        if k == 0:
            data = snrm
            vs = 0
        elif k < 5:
            apdu = mutate(rnd, SEEDS[rnd(8) % len(SEEDS)])
            data = frame(b"\x03\x21", 0x10 | (vs << 1) | (vs << 5), b"\xe6\xe6\x00" + apdu)
            vs = (vs + 1) & 7
        else:
            data = mutate(rnd, frame(b"\x03\x21", (0x93, 0x11, 0x53, 0x10)[rnd(2)], bytes(rnd(8) for _ in range(rnd(4)))))
        srv.receive(data, i)
        for a in srv.acts:
            assert a[0] not in (X.NEW_KEY, X.SECRET), a
        n += 1
    eq(snapshot(h), before)
    print("HDLC frames: %d" % n)
    acts = srv.receive(snrm, 0)
    assert acts and acts[-1][0] == X.SEND
