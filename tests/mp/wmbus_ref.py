# Independent wM-Bus encoder, written from EN 13757-4 (not the firmware's): own CRC, own 3-of-6
# table, own Manchester. Pure Python: imported by the MicroPython tests (radio_harness) and by the
# CPython property test (tests/test_radio_props.py).


def crc_en13757(data):
    """CRC-16/EN-13757, bitwise from the definition: poly 0x3D65, init 0, not reflected, xor 0xFFFF."""
    c = 0
    for b in data:
        c ^= b << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x3D65) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c ^ 0xFFFF


def _crc_bytes(block):
    c = crc_en13757(block)
    return bytes((c >> 8, c & 0xFF))


def with_crcs(frame, fmt):
    """Frame without CRCs (L C M A CI ...) -> with block CRCs; L is recomputed per format."""
    body = bytes(frame[1:])
    if fmt == "A":
        f = bytes((len(body),)) + body
        out = f[:10] + _crc_bytes(f[:10])
        for i in range(10, len(f), 16):
            blk = f[i:i + 16]
            out += blk + _crc_bytes(blk)
        return out
    n = len(body) + 1
    if n + 2 <= 128:
        f = bytes((n + 1,)) + body
        return f + _crc_bytes(f)
    f = bytes((n + 3,)) + body
    return f[:126] + _crc_bytes(f[:126]) + f[126:] + _crc_bytes(f[126:])


def strip_crcs(frame, fmt):
    """Frame with CRCs -> without (L unchanged), asserting every CRC (for vectors given with CRCs)."""
    f = bytes(frame)
    if fmt == "A":
        out = f[:10]
        assert _crc_bytes(f[:10]) == f[10:12], "block 1 CRC"
        i = 12
        while i < len(f):
            blk = f[i:min(i + 16, len(f) - 2)]
            assert _crc_bytes(blk) == f[i + len(blk):i + len(blk) + 2], "block CRC at %d" % i
            out += blk
            i += len(blk) + 2
        return out
    if len(f) <= 128:
        assert _crc_bytes(f[:-2]) == f[-2:], "format B CRC"
        return f[:-2]
    assert _crc_bytes(f[:126]) == f[126:128], "format B CRC 1"
    assert _crc_bytes(f[128:-2]) == f[-2:], "format B CRC 2"
    return f[:126] + f[128:-2]


# EN 13757-4 table of 3-out-of-6 code words, nibble 0..F
CODE6 = (0b010110, 0b001101, 0b001110, 0b001011, 0b011100, 0b011001, 0b011010, 0b010011,
         0b101100, 0b100101, 0b100110, 0b100011, 0b110100, 0b110001, 0b110010, 0b101001)


def t1_encode(data):
    bits = []
    for b in data:
        for nib in (b >> 4, b & 15):
            w = CODE6[nib]
            bits.extend((w >> (5 - i)) & 1 for i in range(6))
    if len(bits) % 8:
        bits.extend((0, 1, 0, 1))  # postamble chips complete the byte
    out = bytearray(len(bits) // 8)
    for i, v in enumerate(bits):
        if v:
            out[i >> 3] |= 0x80 >> (i & 7)
    return bytes(out)


def manchester(data):
    """TI / EN 13757-4 S mode convention: 0 -> chips 10, 1 -> chips 01."""
    out = bytearray()
    for b in data:
        v = 0
        for i in range(8):
            v = (v << 2) | (1 if (b >> (7 - i)) & 1 else 2)
        out.append(v >> 8)
        out.append(v & 0xFF)
    return bytes(out)


def on_air(frame_nocrc, mode, fmt="A"):
    """What the meter sends after the sync word for mode 'T1', 'C1' or 'S1'."""
    f = with_crcs(frame_nocrc, fmt)
    if mode == "C1":
        return bytes((0x54, 0xCD if fmt == "A" else 0x3D)) + f
    if mode == "T1":
        return t1_encode(f)
    return manchester(f)


def make_frame(n_nocrc, seed, ci=0x7A, acc=None):
    """A synthetic frame of n_nocrc bytes (>= 11) without CRCs: L C M A CI data."""
    x = seed * 2654435761 & 0xFFFFFFFF or 1
    data = bytearray()
    for _ in range(n_nocrc - 11):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        data.append(x & 0xFF)
    if len(data) and acc is not None:
        data[0] = acc
    idb = bytes(((seed >> (8 * i)) & 0xFF) for i in range(4))
    return bytes((n_nocrc - 1, 0x44, 0x2D, 0x2C)) + idb + bytes((0x1B, 0x16, ci)) + bytes(data)


def load_vectors(base=""):
    """The vectors of shared/vectors/wmbus.json, which sits beside the repository (CI: a copy
    beside the clone; here /work/shared); `base` is the repository root ("" = the cwd)."""
    import json
    for p in (base + "../shared/vectors/wmbus.json", base + "../../shared/vectors/wmbus.json",
              "/work/shared/vectors/wmbus.json"):
        try:
            with open(p) as f:
                return json.load(f)["vectors"]
        except OSError:
            pass
    raise OSError("shared/vectors/wmbus.json not found beside the repository")


def vector_nocrc(v):
    """(frame without CRCs, "A"|"B") of a vector (CRCs of vectors given with them checked here)."""
    fmt = "B" if v.get("format") == "B" else "A"
    if "frame_without_crc" in v:
        return bytes.fromhex(v["frame_without_crc"]), fmt
    f = bytes.fromhex(v["frame"])
    if v.get("crc") == "none":
        return f, fmt
    return strip_crcs(f, fmt), fmt
