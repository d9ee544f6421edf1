# DLMS link and data codecs: FCS-16, A-XDR, TCP wrapper, HDLC. Expected bytes come from the
# standards (IEC 62056-46/-47, Green Book examples, gurux traces) or from independent bitwise
# reference code written here.
import gc
import struct
import random

from mptest import raises, eq
from meter.cores.dlms import fcs, axdr, wrapper, hdlc
from meter.cores.dlms.axdr import AxdrError
from dlms_client import crc_ref, frame


def parse(f):
    """-> (format, dst bytes, src, ctrl, info) of one frame we received, checking HCS/FCS."""
    assert f[0] == 0x7E and f[-1] == 0x7E, f
    body = f[1:-1]
    ln = ((body[0] & 7) << 8) | body[1]
    assert ln == len(body), (ln, len(body))
    assert crc_ref(body[:-2]) == body[-2] | (body[-1] << 8)
    p = 2
    while not body[p] & 1:
        p += 1
    dst = body[2:p + 1]
    q = p + 1
    while not body[q] & 1:
        q += 1
    src = body[p + 1:q + 1]
    ctrl = body[q + 1]
    info = b""
    if ln > q + 2 + 2:
        assert crc_ref(body[:q + 2]) == body[q + 2] | (body[q + 3] << 8)
        info = body[q + 4:-2]
    return body[0], dst, src, ctrl, info


def test_fcs_vectors():
    eq(fcs.fcs(b"123456789", 0, 9), 0x906E)
    eq(fcs.fcs(b"", 0, 0), 0x0000)
    # SNRM of the gurux traces: 7E A0 07 03 21 93 0F 01 7E
    f = bytes.fromhex("A00703219301" + "0F")[:5]
    eq(fcs.fcs(f, 0, 5), 0x010F)
    r = random.Random(7) if hasattr(random, "Random") else None
    for n in range(0, 300, 7):
        b = bytes((i * 37 + n) & 255 for i in range(n))
        eq(fcs.fcs(b, 0, n), crc_ref(b))
        c = fcs.fcs(b, 0, n)
        assert fcs.check(b + bytes((c & 255, c >> 8)), 0, n + 2)
        if n:
            assert not fcs.check(b + bytes(((c ^ 1) & 255, c >> 8)), 0, n + 2)


def test_axdr_known_encodings():
    E = axdr.encoded
    # Blue Book / Green Book examples
    eq(E((axdr.DOUBLE_LONG_UNSIGNED, 10)), b"\x06\x00\x00\x00\x0a")
    eq(E((axdr.LONG, -2)), b"\x10\xff\xfe")
    eq(E((axdr.INTEGER, -1)), b"\x0f\xff")
    eq(E((axdr.ENUM, 30)), b"\x16\x1e")
    eq(E((axdr.BOOLEAN, True)), b"\x03\x01")
    eq(E((axdr.OCTET_STRING, b"\x00\x00\x01\x00\x00\xff")), b"\x09\x06\x00\x00\x01\x00\x00\xff")
    eq(E((axdr.VISIBLE_STRING, "AB")), b"\x0a\x02AB")
    eq(E((axdr.BIT_STRING, (24, b"\x00\x1a\x1d"))), b"\x04\x18\x00\x1a\x1d")
    eq(E((axdr.STRUCTURE, ((axdr.INTEGER, -1), (axdr.ENUM, 35)))), b"\x02\x02\x0f\xff\x16\x23")
    eq(E((axdr.ARRAY, [])), b"\x01\x00")
    eq(E((axdr.LONG64, -1)), b"\x14" + b"\xff" * 8)
    eq(E((axdr.LONG64_UNSIGNED, 2 ** 40)), b"\x15\x00\x00\x01\x00\x00\x00\x00\x00")
    eq(E((axdr.FLOAT32, 1.0)), b"\x17\x3f\x80\x00\x00")
    eq(E((axdr.NULL, None)), b"\x00")
    big = b"x" * 300
    eq(E((axdr.OCTET_STRING, big), 400)[:4], b"\x09\x82\x01\x2c")
    eq(E((axdr.OCTET_STRING, b"y" * 200), 400)[:3], b"\x09\x81\xc8")
    # lazily produced arrays encode like lists
    rows = axdr.Rows(3, lambda i: (axdr.UNSIGNED, i))
    eq(E((axdr.ARRAY, rows)), E((axdr.ARRAY, [(axdr.UNSIGNED, i) for i in range(3)])))


def test_axdr_round_trip():
    vals = [(axdr.NULL, None), (axdr.BOOLEAN, False), (axdr.DOUBLE_LONG, -2 ** 31), (axdr.DOUBLE_LONG, 2 ** 31 - 1),
            (axdr.DOUBLE_LONG_UNSIGNED, 2 ** 32 - 1), (axdr.UNSIGNED, 255), (axdr.LONG_UNSIGNED, 65535),
            (axdr.LONG64_UNSIGNED, 2 ** 64 - 1), (axdr.UTF8_STRING, b"\xc3\xa9"), (axdr.DATE_TIME, bytes(12)),
            (axdr.DATE, bytes(5)), (axdr.TIME, bytes(4)), (axdr.BIT_STRING, (3, b"\xe0")), (axdr.FLOAT64, 0.5)]
    v = (axdr.STRUCTURE, [(axdr.ARRAY, vals), (axdr.STRUCTURE, [])])
    b = axdr.encoded(v, 512)
    w = axdr.decode_all(b, 0, len(b))
    eq(w[0], axdr.STRUCTURE)
    eq(w[1][0][1], vals)


def test_axdr_strict_errors():
    def code(b, **kw):
        return raises(AxdrError, axdr.decode, b, 0, len(b), **kw).code
    eq(code(b""), axdr.TRUNCATED)
    eq(code(b"\x06\x00\x00"), axdr.TRUNCATED)
    eq(code(b"\x09\x05abc"), axdr.TRUNCATED)
    eq(code(b"\x09\x84\xff\xff\xff\xff"), axdr.BAD_LENGTH)  # 4 GB length: refused before use
    eq(code(b"\x09\x83\xff\xff\xff" + b"x" * 10), axdr.TRUNCATED)  # 16 MB: truncated, no alloc
    eq(code(b"\x09\x80"), axdr.BAD_LENGTH)  # indefinite form
    eq(code(b"\x01\x82\xff\xff\x00"), axdr.TRUNCATED)  # 65535 elements announced, 1 byte
    eq(code(b"\x13\x00"), axdr.BAD_TAG)  # compact-array: not supported
    eq(code(b"\xff"), axdr.BAD_TAG)
    deep = b"\x01\x01" * 9 + b"\x00"
    eq(code(deep), axdr.TOO_DEEP)
    ok = b"\x01\x01" * 8 + b"\x00"
    axdr.decode(ok, 0, len(ok))
    many = b"\x01\x7f" + b"\x00" * 127
    eq(code(many, max_items=50), axdr.TOO_MANY)
    axdr.decode(many, 0, len(many), 200)
    buf = bytearray(4)
    eq(raises(AxdrError, axdr.encode, buf, 0, (axdr.DOUBLE_LONG, 1)).code, axdr.OVERFLOW)
    eq(raises(AxdrError, axdr.encode, bytearray(9), 0, (axdr.UNSIGNED, 256)).code, axdr.BAD_VALUE)
    eq(raises(AxdrError, axdr.encode, bytearray(9), 0, (axdr.DOUBLE_LONG_UNSIGNED, -1)).code, axdr.BAD_VALUE)
    eq(raises(AxdrError, axdr.decode_all, b"\x00\x00", 0, 2).code, axdr.BAD_LENGTH)


def test_axdr_fuzz_never_memoryerror():
    r = random.getrandbits
    buf = bytearray(64)
    for i in range(3000):
        n = r(6)
        for k in range(n):
            buf[k] = r(8) if r(2) else (1, 2, 9, 0x82, 0x84, 0xff)[r(8) % 6]
        try:
            axdr.decode(buf, 0, n)
        except AxdrError:
            pass


def test_wrapper_reassembly():
    rx = wrapper.Rx(64)
    apdus = [b"\xc0\x01\xc1" + bytes(range(k)) for k in (0, 5, 61)]
    stream = b"".join(struct.pack(">HHHH", 1, 16, 1, len(a)) + a for a in apdus)
    got = []
    for chunk in (1, 3, 8, 100):
        rx.reset()
        got = []
        pos = 0
        while pos < len(stream):
            end = min(len(stream), pos + chunk)
            while pos < end:
                pos = rx.feed(stream, pos, end)
                if rx.ready():
                    got.append((rx.src(), rx.dst(), bytes(rx.buf[8:8 + rx.apdu_len()])))
                    rx.reset()
        eq(got, [(16, 1, a) for a in apdus])
    e = raises(wrapper.WrapperError, rx.feed, struct.pack(">HHHH", 1, 16, 1, 65), 0, 8)
    eq(e.code, wrapper.OVERSIZE)
    e = raises(wrapper.WrapperError, rx.feed, struct.pack(">HHHH", 2, 16, 1, 3), 0, 8)
    eq(e.code, wrapper.BAD_VERSION)
    b = bytearray(12)
    wrapper.put_header(b, 1, 16, 4)
    eq(bytes(b[:8]), b"\x00\x01\x00\x01\x00\x10\x00\x04")


CLIENT = b"\x21"  # client SAP 16
SERVER2 = b"\x02\x23"  # upper 1, lower 17


def feed_all(link, data, now=0):
    """-> list of (event, frame bytes)."""
    out = []
    pos = 0
    while pos < len(data):
        pos = link.feed(data, pos, len(data), now)
        out.append((link.event, bytes(link.tx[:link.tx_len]), bytes(link.apdu[:link.apdu_len])))
    return out


def connect(link, params=b""):
    r = feed_all(link, frame(SERVER2 + CLIENT, 0x93, params))
    ev, f, _ = r[-1]
    eq(ev, hdlc.CONNECTED)
    return parse(f)


def test_hdlc_snrm_ua_negotiation():
    link = hdlc.Link(upper=1, lower=17, max_info=256)
    fmt, dst, src, ctrl, info = connect(link)
    eq(ctrl, 0x73)  # UA with F
    eq(dst, b"\x21")
    eq(src, SERVER2)  # our address comes back in the form the client used
    # UA parameters, server's view: 05 tx 128, 06 rx 128 (client proposed nothing: defaults)
    eq(info[:3], b"\x81\x80\x12")
    eq(info[3:], b"\x05\x01\x80\x06\x01\x80\x07\x04\x00\x00\x00\x01\x08\x04\x00\x00\x00\x01")
    # the client proposes tx 512 (what it sends) and rx 200 (what it takes): we take 256 / give 200
    p = b"\x81\x80\x0d\x05\x02\x02\x00\x06\x01\xc8\x07\x01\x01\x08\x01\x01"
    fmt, dst, src, ctrl, info = connect(link, p)
    eq(info[3:], b"\x05\x01\xc8\x06\x02\x01\x00\x07\x04\x00\x00\x00\x01\x08\x04\x00\x00\x00\x01")
    eq((link.info_tx, link.info_rx), (200, 256))


def test_hdlc_addressing():
    link = hdlc.Link(upper=1, lower=17)
    # other physical address: silence
    eq(feed_all(link, frame(b"\x02\x25" + CLIENT, 0x93))[-1][:2], (hdlc.NONE, b""))
    # other logical device: silence
    eq(feed_all(link, frame(b"\x04\x23" + CLIENT, 0x93))[-1][:2], (hdlc.NONE, b""))
    # 4-byte address: upper 1, lower 17
    r = feed_all(link, frame(b"\x00\x02\x00\x23" + CLIENT, 0x93))
    eq(r[-1][0], hdlc.CONNECTED)
    eq(parse(r[-1][1])[1:3], (b"\x21", b"\x00\x02\x00\x23"))
    # 1-byte address (upper only) is accepted too
    eq(feed_all(link, frame(b"\x03" + CLIENT, 0x93))[-1][0], hdlc.CONNECTED)


def test_hdlc_bad_frames_dropped():
    link = hdlc.Link(upper=1)
    good = frame(b"\x03" + CLIENT, 0x93)
    for bad in (good[:-3] + bytes((good[-3] ^ 1,)) + good[-2:],  # FCS
                good[:3] + b"\x05" + good[4:],  # address changed: FCS no longer matches
                b"\x7e\xb0" + good[2:]):  # format type not 0xA
        eq(feed_all(link, bad)[-1][:2], (hdlc.NONE, b""))
    assert not link.connected
    # bad HCS in an I-frame with a correct FCS
    connect(link)
    f = bytearray(frame(SERVER2 + CLIENT, 0x10, b"\xe6\xe6\x00\xc0\x01"))
    f[7] ^= 0x55  # first HCS byte
    c = crc_ref(bytes(f[1:-3]))
    f[-3] = c & 255
    f[-2] = c >> 8
    eq(feed_all(link, bytes(f))[-1][:2], (hdlc.NONE, b""))
    # disconnected: an I-frame with P gets DM
    link2 = hdlc.Link(upper=1)
    r = feed_all(link2, frame(b"\x03" + CLIENT, 0x10, b"\xe6\xe6\x00\xc0"))
    eq(parse(r[-1][1])[3], 0x1F)


def test_hdlc_segmentation_round_trip():
    link = hdlc.Link(upper=1, max_info=64, max_apdu=1024)
    connect(link, b"\x81\x80\x06\x05\x01\x40\x06\x01\x40")
    apdu = bytes((i * 7) & 255 for i in range(300))
    # client -> server in segments of 64 info bytes (first carries E6 E6 00)
    data = b"\xe6\xe6\x00" + apdu
    segs = [data[i:i + 64] for i in range(0, len(data), 64)]
    vr = 0
    for k, s in enumerate(segs):
        last = k == len(segs) - 1
        r = feed_all(link, frame(SERVER2 + CLIENT, (0 << 5) | 0x10 | (k % 8) << 1, s, not last))
        ev, f, got = r[-1]
        if last:
            eq(ev, hdlc.APDU)
            eq(got, apdu)
        else:
            fmt, dst, src, ctrl, info = parse(f)
            eq(ctrl & 0x0F, 0x01)  # RR
            eq(ctrl >> 5, (k + 1) % 8)
    # server -> client: send 300 bytes, collect with RRs
    link.send_apdu(memoryview(apdu), len(apdu))
    got = b""
    nr = len(segs) % 8
    vs_client = 0
    for k in range(20):
        fmt, dst, src, ctrl, info = parse(bytes(link.tx[:link.tx_len]))
        eq(ctrl & 1, 0)
        eq((ctrl >> 1) & 7, k % 8)
        assert len(info) <= 64
        got += info
        if not fmt & 0x08:
            break
        r = feed_all(link, frame(SERVER2 + CLIENT, (((k + 1) % 8) << 5) | 0x11))
    eq(got, b"\xe6\xe7\x00" + apdu)
    # the client lost our last frame and polls with the old N(R): the frame comes again
    last = bytes(link.tx[:link.tx_len])
    r = feed_all(link, frame(SERVER2 + CLIENT, ((k % 8) << 5) | 0x11))
    eq(r[-1][1], last)


def test_hdlc_disc_and_timeout():
    link = hdlc.Link(upper=1, inactivity_ms=1000)
    connect(link)
    r = feed_all(link, frame(b"\x03" + CLIENT, 0x53), 10)
    eq(r[-1][0], hdlc.DISCONNECTED)
    eq(parse(r[-1][1])[3], 0x73)
    r = feed_all(link, frame(b"\x03" + CLIENT, 0x53), 20)
    eq(parse(r[-1][1])[3], 0x1F)  # DM when already disconnected
    feed_all(link, frame(b"\x03" + CLIENT, 0x93), 100)
    link.poll(900)
    eq(link.event, hdlc.NONE)
    link.poll(1200)
    eq(link.event, hdlc.DISCONNECTED)
    assert not link.connected
    # ticks wrap at 2**30
    feed_all(link, frame(b"\x03" + CLIENT, 0x93), (1 << 30) - 100)
    link.poll(400)
    eq(link.event, hdlc.NONE)
    link.poll(1000)
    eq(link.event, hdlc.DISCONNECTED)


def test_hdlc_no_alloc_per_frame():
    link = hdlc.Link(upper=1)
    connect(link)
    rr = frame(b"\x03" + CLIENT, 0x11)
    link.feed(rr, 0, len(rr), 0)
    gc.collect()
    a0 = gc.mem_alloc()
    for i in range(50):
        link.feed(rr, 0, len(rr), i)
    a1 = gc.mem_alloc()
    assert a1 - a0 == 0, a1 - a0
