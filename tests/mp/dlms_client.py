# A tiny DLMS client written independently from the server cores, from the Green Book encodings,
# for the MicroPython-side tests (byte builders and parsers; no sockets).
import struct

CTX_OID = b"\x60\x85\x74\x05\x08\x01"
MECH_OID = b"\x60\x85\x74\x05\x08\x02"


def initiate_request(conf=0x00FFFF, pdu=0xFFFF, version=6):
    return bytes((0x01, 0, 0, 0, version, 0x5F, 0x1F, 0x04, 0, (conf >> 16) & 255, (conf >> 8) & 255,
                  conf & 255, pdu >> 8, pdu & 255))


def tlv(tag, content):
    assert len(content) < 128
    return bytes((tag, len(content))) + content


def aarq(context=1, mech=None, title=None, auth=None, ui=None):
    body = tlv(0xA1, b"\x06\x07" + CTX_OID + bytes((context,)))
    if title is not None:
        body += tlv(0xA6, tlv(0x04, title))
    if mech is not None:
        body += tlv(0x8A, b"\x07\x80") + tlv(0x8B, MECH_OID + bytes((mech,)))
    if auth is not None:
        body += tlv(0xAC, tlv(0x80, auth))
    if ui is None:
        ui = initiate_request()
    body += tlv(0xBE, tlv(0x04, ui))
    return tlv(0x60, body)


def parse_aare(b):
    """-> dict of result, diag, source, title, stoc, ui (bytes)."""
    assert b[0] == 0x61, b
    n = b[1]
    p, end = 2, 2 + n
    assert end == len(b), (end, len(b))
    r = {}
    while p < end:
        t, ln = b[p], b[p + 1]
        c = b[p + 2:p + 2 + ln]
        if t == 0xA1:
            r["context"] = c[-1]
        elif t == 0xA2:
            r["result"] = c[2]
        elif t == 0xA3:
            r["source"] = c[0]
            r["diag"] = c[4]
        elif t == 0xA4:
            r["title"] = bytes(c[2:])
        elif t == 0x89:
            r["mech"] = c[-1]
        elif t == 0xAA:
            r["stoc"] = bytes(c[2:])
        elif t == 0xBE:
            r["ui"] = bytes(c[2:])
        p += 2 + ln
    return r


def desc(cls, ln, attr):
    return struct.pack(">H", cls) + bytes(ln) + bytes((attr & 255,))


def get(cls, ln, attr, iid=0xC1, sel=None):
    b = bytes((0xC0, 1, iid)) + desc(cls, ln, attr)
    if sel is None:
        return b + b"\x00"
    return b + b"\x01" + bytes((sel[0],)) + sel[1]


def get_next(block, iid=0xC1):
    return bytes((0xC0, 2, iid)) + struct.pack(">I", block)


def get_list(items, iid=0xC1):
    b = bytes((0xC0, 3, iid, len(items)))
    for cls, ln, attr in items:
        b += desc(cls, ln, attr) + b"\x00"
    return b


def set_(cls, ln, attr, data, iid=0xC1):
    return bytes((0xC1, 1, iid)) + desc(cls, ln, attr) + b"\x00" + data


def action(cls, ln, method, data=None, iid=0xC1):
    b = bytes((0xC3, 1, iid)) + desc(cls, ln, method)
    return b + (b"\x00" if data is None else b"\x01" + data)


def rlrq():
    return b"\x62\x03\x80\x01\x00"


def wrap(apdu, src=16, dst=1):
    return struct.pack(">HHHH", 1, src, dst, len(apdu)) + apdu


def unwrap(frame):
    v, s, d, n = struct.unpack(">HHHH", frame[:8])
    assert v == 1 and len(frame) == 8 + n, (v, n, len(frame))
    return frame[8:]


# A-XDR builders used by the tests (independent of the server's codec)
def u32(v):
    return b"\x06" + struct.pack(">I", v)


def u16(v):
    return b"\x12" + struct.pack(">H", v)


def octets(b):
    assert len(b) < 128
    return bytes((0x09, len(b))) + b


def structure(*items):
    return bytes((0x02, len(items))) + b"".join(items)


def array(*items):
    return bytes((0x01, len(items))) + b"".join(items)


# HDLC frames for the tests, built from IEC 62056-46 clause 5.3 independently of hdlc.py
def crc_ref(b):
    # bit-by-bit CRC-16/X-25 from the polynomial (ISO/IEC 13239): reflected 0x8408
    c = 0xFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
    return c ^ 0xFFFF


def frame(addr, ctrl, info=b"", seg=False):
    """An HDLC frame built independently of hdlc.py (format, addresses, control, HCS, FCS)."""
    hl = 2 + len(addr) + 1
    ln = hl + (2 + len(info) if info else 0) + 2
    h = bytes((0xA0 | (8 if seg else 0) | (ln >> 8), ln & 255)) + addr + bytes((ctrl,))
    if info:
        c = crc_ref(h)
        h += bytes((c & 255, c >> 8)) + info
    c = crc_ref(h)
    return b"\x7e" + h + bytes((c & 255, c >> 8)) + b"\x7e"
