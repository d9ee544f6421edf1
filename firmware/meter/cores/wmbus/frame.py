# wM-Bus data link layer frames, EN 13757-4 (format A and B), without the radio coding.
#
# Format A: block 1 = L C M(2) A(6), 10 bytes + CRC; then blocks of 16 bytes + CRC, the last one
#   shorter. L counts the bytes after L without CRCs.
# Format B: block 1 (10 bytes) and block 2 (up to 118 bytes) share one CRC at the end of block 2
#   (at offset 126..127 if the frame is longer than 128 bytes); block 3 has the rest and its own
#   CRC. L counts every byte after L, CRCs included.
# CRC-16/EN-13757 (poly 0x3D65, init 0, xorout 0xFFFF), high byte first, via metercrypto.
#
# Allocation-free CRC over a block of any length: with init 0, leading zero bytes leave a
# non-reflected CRC at 0, so a block right-aligned in a zeroed scratch of fixed length has the
# same CRC as the block alone. One scratch of 126 bytes (the longest block) serves all.
import metercrypto
from micropython import const

from meter.cores.wmbus.mode import FMT_A, fmt_a_total, fmt_b_total

_crc = metercrypto.crc16_en13757

SCRATCH = const(126)
MAX_FRAME = const(290)  # format A, L = 255, with CRCs (format B: 256)
MAX_DATA = const(256)  # L + 255 bytes, CRCs removed

# result codes of check_into (also the link layer's)
OK = const(0)
ERR_LENGTH = const(1)
ERR_CRC = const(3)


class Blocks:
    """Checks and strips block CRCs, and builds frames with them, in caller buffers. Holds only
    the scratch; after check_into: `bad` = number of bad blocks, `bad_mask` (bit i = block i+1),
    `blocks`, `fp` = the last block's CRC (a fingerprint for duplicate detection)."""

    def __init__(self):
        self.scr = bytearray(SCRATCH)
        self.scr16 = memoryview(self.scr)[SCRATCH - 16:]
        self.bad = 0
        self.bad_mask = 0
        self.blocks = 0
        self.fp = 0

    def _copy_crc(self, src, s, k, dst, d, whole):
        """Copy block src[s:s+k] to dst[d:d+k] (dst may be src with d <= s) and return its CRC.
        whole: right-align in the 126-byte scratch, else in its last 16 bytes."""
        scr = self.scr
        z = SCRATCH - k
        for i in range(0 if whole else SCRATCH - 16, z):
            scr[i] = 0
        for i in range(k):
            b = src[s + i]
            scr[z + i] = b
            dst[d + i] = b
        return _crc(scr if whole else self.scr16)

    def _block(self, src, s, k, dst, d, whole):
        c = self._copy_crc(src, s, k, dst, d, whole)
        got = (src[s + k] << 8) | src[s + k + 1]
        self.fp = got
        i = self.blocks
        self.blocks = i + 1
        if c != got:
            self.bad += 1
            self.bad_mask |= 1 << i

    def check_into(self, src, s0, n, fmt, dst, d0):
        """Frame with CRCs at src[s0:s0+n] -> frame without CRCs at dst[d0:] (dst may be src with
        d0 <= s0). Returns the frame length without CRCs (>= 10), or -ERR_LENGTH if n does not
        match the L-field. Bad blocks are counted in self.bad / self.bad_mask: the caller must not
        pass such a frame up."""
        self.bad = self.bad_mask = self.blocks = 0
        if n < 12:
            return -ERR_LENGTH
        lf = src[s0]
        if fmt == FMT_A:
            if fmt_a_total(lf) != n:
                return -ERR_LENGTH
            self._block(src, s0, 10, dst, d0, False)
            s, d, rem = s0 + 12, d0 + 10, lf - 9
            while rem > 0:
                k = 16 if rem > 16 else rem
                self._block(src, s, k, dst, d, False)
                s += k + 2
                d += k
                rem -= k
            return lf + 1
        if fmt_b_total(lf) != n:
            return -ERR_LENGTH
        if n <= 128:
            self._block(src, s0, n - 2, dst, d0, True)
            return n - 2
        self._block(src, s0, 126, dst, d0, True)
        self._block(src, s0 + 128, n - 130, dst, d0 + 126, True)
        return n - 4

    def build_into(self, data, n, fmt, dst, d0):
        """Frame without CRCs data[0:n] (L C M A CI ..., L is set here) -> with CRCs at dst[d0:]
        (a separate buffer). Returns the length with CRCs; ValueError for an impossible n."""
        if fmt == FMT_A:
            lf = n - 1
            t = fmt_a_total(lf) if lf <= 255 else -1
        else:
            lf = n + (2 if n <= 126 else 4) - 1
            t = fmt_b_total(lf) if lf <= 255 else -1
        if t < 0:
            raise ValueError("frame length")
        data[0] = lf
        if fmt == FMT_A:
            s, d = 0, d0
            k = 10
            while s < n:
                self._put(data, s, k, dst, d, False)
                s += k
                d += k + 2
                k = 16 if n - s > 16 else n - s
        elif t <= 128:
            self._put(data, 0, n, dst, d0, True)
        else:
            self._put(data, 0, 126, dst, d0, True)
            self._put(data, 126, n - 126, dst, d0 + 128, True)
        return t

    def _put(self, src, s, k, dst, d, whole):
        c = self._copy_crc(src, s, k, dst, d, whole)
        dst[d + k] = c >> 8
        dst[d + k + 1] = c & 0xFF


class Frame:
    """A received frame: offsets into `buf` (the buffer the link decoded it in, CRCs removed),
    nothing copied. Fields per EN 13757-4: L, C, M (manufacturer, 2 bytes LE), A = ID (4 bytes BCD LE),
    version, device type; then CI at `ci_off` and the data up to `end`."""

    def __init__(self, buf):
        self.buf = buf
        self.n = 0  # bytes from L to the end, CRCs removed
        self.mode = 0
        self.fmt = FMT_A
        self.rssi = 0  # dBm
        self.lqi = 0
        self.ci_off = 10
        self.end = 0

    def __getattr__(self, name):
        """The link-layer fields, read from buf on access: l_field, c, m (manufacturer, 2 bytes
        LE), version, dev_type, ci (-1 for a frame without one, L = 9). One method instead of six
        properties (RAM on small heaps); called only for names the instance does not hold."""
        b = self.buf
        if name == "l_field":
            return b[0]
        if name == "c":
            return b[1]
        if name == "m":
            return b[2] | (b[3] << 8)
        if name == "version":
            return b[8]
        if name == "dev_type":
            return b[9]
        if name == "ci":
            return b[10] if self.n > 10 else -1
        raise AttributeError(name)

    def manufacturer(self):
        """Three-letter manufacturer code (EN 13757-7 / FLAG: 3 x 5 bits, 'A' = 1). Allocates."""
        m = self.m
        return "".join(chr(((m >> s) & 31) + 64) for s in (10, 5, 0))

    def id_str(self):
        """Meter ID as the 8 printed digits (BCD, sent least significant byte first). Allocates."""
        b = self.buf
        return "%02x%02x%02x%02x" % (b[7], b[6], b[5], b[4])

    def data(self):
        """memoryview of CI and what follows (allocates one view: for the layer above)."""
        return memoryview(self.buf)[self.ci_off:self.end]


def mfct_code(letters):
    """'ABC' -> the 2-byte M-field value."""
    v = 0
    for ch in letters:
        v = (v << 5) | ((ord(ch) - 64) & 31)
    return v
