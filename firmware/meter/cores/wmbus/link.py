# wM-Bus link layer, sans-I/O: raw packets from the radio (bytes after the sync word, still line
# coded) in, checked frames out; frames in, on-air bytes out. No clock: `now` comes in.
#
#     link = Link()
#     bufs = link.rx_buffers(2)            # raw packet buffers to hand to the radio driver
#     r = link.read(raw, n, family, rssi, lqi, now)
#     if r == OK: f = link.frame           # f.c, f.m, f.manufacturer(), f.id_str(), f.ci, f.ci_off..f.end
#     n_air = link.encode(mode, fmt, data, n, out)   # data = L C M A CI ... without CRCs
#
# Order of work per packet (cheap first): mode from the first bytes; line decoding (3-of-6 is
# native), in place in the raw buffer; the manufacturer/ID filter on block 1; the block CRCs,
# stripping them in place (the frame ends up at the start of the raw buffer: no second one); the
# duplicate check (same ID, manufacturer and access number, or last-block CRC when the CI has
# no access number, within `dup_window` units of `now`). A frame with any bad block is counted
# (ST_CRC, and each block in ST_BAD_BLOCKS) and never passed up. Nothing is allocated per frame.
import array

import metercrypto
from micropython import const

from meter.cores.wmbus import mode as M
from meter.cores.wmbus.frame import Blocks, Frame, OK, ERR_LENGTH, ERR_CRC, mfct_code

ERR_CODING = const(2)  # invalid 3-of-6 or Manchester, or not a wM-Bus packet
FILTERED = const(4)
DUPLICATE = const(5)

# statistics counters (indices into Link.stats)
ST_OK = const(0)
ST_CRC = const(1)  # frames dropped for bad blocks
ST_BAD_BLOCKS = const(2)  # bad blocks in them
ST_CODING = const(3)
ST_LENGTH = const(4)
ST_FILTERED = const(5)
ST_DUP = const(6)
ST_OVERFLOW = const(7)  # reported by the radio port (note())
ST_TRUNCATED = const(8)  # likewise: a packet that ended before its L-field said
N_STATS = const(9)

RAW_SIZE = const(648)  # either family: S1 chips of the longest frame (290 -> 580 bytes), rounded
RAW_TC = const(456)  # T1/C1 only: coded T1 of the longest frame (format A, L = 255: 290 -> 435
                     # bytes) rounded up to _BUCKET; C1 needs 292
_BUCKET = const(24)  # 3-of-6 decode granularity: 24 coded -> 16 bytes
_TX_FRAME = const(304)  # 290 rounded up to 16 (3-of-6 encode granularity)
_NDUP = const(16)

# where the access number sits after the CI field (EN 13757-7 short/long TPL header, EN 13757-4
# ELL), by CI - 0x50 for CI 0x50..0x8F, 0 = none: short header (1) 0x5A 0x61 0x65 0x74 0x7A 0x7B
# 0x8A; long header (9) 0x53 0x60 0x64 0x72 0x73 0x8B; ELL (2) 0x8C..0x8F. Other CIs use the last
# block CRC as the duplicate fingerprint. A bytes constant: in ROM when frozen, no dict in RAM.
_ACC_CI0 = const(0x50)
_ACC = (b"\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00"
        b"\x09\x01\x00\x00\x09\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        b"\x00\x00\x09\x09\x01\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00"
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x09\x02\x02\x02\x02")

_PAD = b"\x59\x65\x96"  # 3-of-6 words for 0x00 0x00 by position mod 3: valid filler after a frame


class Link:
    def __init__(self, dup_window=60):
        self.blocks = Blocks()
        self.dbuf = None  # the raw buffer the last frame was decoded in (in place)
        self.frame = Frame(None)
        self.stats = array.array("i", [0] * N_STATS)
        self.dup_window = dup_window
        self._ids = b""  # no filter: empty constants (ROM), not objects
        self._mfcts = ()
        self._dkey = None  # the duplicate table: none with a window of 0 (nothing is a duplicate)
        if dup_window > 0:
            self._dup_table()
        self._dnext = 0
        self._tbuf = None  # transmit scratch: made by the first encode() (a receive-only meter
                           # never needs it)
        self.last_bad_mask = 0

    # --- configuration ----------------------------------------------------------------------
    def rx_buffers(self, k, family=-1):
        """k raw packet buffers for the radio driver: RAW_TC bytes for M.FAMILY_TC, else RAW_SIZE
        (S1, or a driver switching families). read() decodes T1 only from these (they hold
        the filler words its native decoder runs over)."""
        out = []
        size = RAW_TC if family == M.FAMILY_TC else RAW_SIZE
        for _ in range(k):
            out.append(bytearray(size))
        return out

    def set_filter(self, ids=None, manufacturers=None):
        """Accept only these meter IDs (8-digit strings as printed, e.g. "12345678") and/or
        manufacturers (3-letter codes or M-field ints). None: accept all."""
        ib = b""
        if ids:
            ib = bytearray()
            for s in ids:
                v = int(s, 16)
                ib.extend(bytes(((v >> (8 * i)) & 0xFF for i in range(4))))
        self._ids = ib
        ma = ()
        if manufacturers:
            ma = array.array("i")
            for m in manufacturers:
                ma.append(m if isinstance(m, int) else mfct_code(m))
        self._mfcts = ma

    def note(self, stat, k=1):
        """Count an event the radio port saw (ST_OVERFLOW, ST_TRUNCATED)."""
        self.stats[stat] += k

    # --- receive ------------------------------------------------------------------------------
    def read(self, raw, n, family, rssi, lqi, now):
        """Check one raw packet (raw[0:n], bytes after sync). OK: self.frame holds it. Otherwise
        ERR_CODING, ERR_LENGTH, ERR_CRC (self.last_bad_mask says which blocks), FILTERED or
        DUPLICATE; every outcome is counted in self.stats."""
        st = self.stats
        m = M.detect(raw, n, family)
        t = M.expected_length(raw, n, family)
        if m < 0 or t < 0:
            st[ST_CODING] += 1
            return ERR_CODING
        if t != n:
            st[ST_LENGTH] += 1
            return ERR_LENGTH
        d = raw  # decoded in place: each step writes at or before what it reads
        fmt = M.FMT_B if m == M.MODE_C1B or m == M.MODE_C1B_LATE else M.FMT_A
        if m == M.MODE_T1:
            src, s0, fn = d, 0, M.fmt_a_total(M.t1_lfield(raw[0], raw[1]))
            if not self._decode_t1(raw, n):
                st[ST_CODING] += 1
                return ERR_CODING
        elif m == M.MODE_S1:
            src, s0, fn = d, 0, n // 2
            if M.man_decode_into(raw, 0, fn, d, 0) < 0:
                st[ST_CODING] += 1
                return ERR_CODING
        else:
            src, s0 = raw, (0 if m == M.MODE_C1B_LATE else 2)
            fn = n - s0
        if not self._accept(src, s0):
            st[ST_FILTERED] += 1
            return FILTERED
        blk = self.blocks
        k = blk.check_into(src, s0, fn, fmt, d, 0)
        if k < 0:
            st[ST_LENGTH] += 1
            return ERR_LENGTH
        self.last_bad_mask = blk.bad_mask
        if blk.bad:
            st[ST_CRC] += 1
            st[ST_BAD_BLOCKS] += blk.bad
            return ERR_CRC
        if self._duplicate(d, k, blk.fp, now):
            st[ST_DUP] += 1
            return DUPLICATE
        f = self.frame
        f.buf = self.dbuf = d
        f.n = f.end = k
        f.mode = m
        f.fmt = fmt
        f.rssi = rssi
        f.lqi = lqi
        st[ST_OK] += 1
        return OK

    def _decode_t1(self, raw, n):
        j = (n + _BUCKET - 1) // _BUCKET
        if j * _BUCKET > len(raw):  # not a buffer from rx_buffers(): no room for the filler
            return False
        if n % 3 == 2:  # the last byte holds 4 spare chips: make them 0101 so the filler after
            raw[n - 1] = (raw[n - 1] & 0xF0) | 0x05  # it continues with valid code words
        for i in range(n, j * _BUCKET):
            raw[i] = _PAD[i % 3]
        if not M.t1_valid(raw, j * _BUCKET):  # a corrupt packet: ERR_CODING, no exception
            return False
        try:
            metercrypto.decode_3of6_into(raw, raw, j * _BUCKET)  # in place; no view per length
        except ValueError:  # not reached after t1_valid; kept as the native decoder's contract
            return False
        return True

    def _accept(self, b, s):
        ids = self._ids
        if len(ids):
            ok = False
            for i in range(0, len(ids), 4):
                if (b[s + 4] == ids[i] and b[s + 5] == ids[i + 1] and b[s + 6] == ids[i + 2]
                        and b[s + 7] == ids[i + 3]):
                    ok = True
                    break
            if not ok:
                return False
        mf = self._mfcts
        if len(mf):
            v = b[s + 2] | (b[s + 3] << 8)
            for i in range(len(mf)):
                if mf[i] == v:
                    return True
            return False
        return True

    def _dup_table(self):
        self._dkey = bytearray(_NDUP * 6)
        self._dacc = array.array("i", [0] * _NDUP)
        self._dt = array.array("i", [0] * _NDUP)
        self._dvalid = bytearray(_NDUP)

    def _duplicate(self, d, k, fp, now):
        if self.dup_window <= 0:
            return False
        if self._dkey is None:  # a window set after construction: the table, once
            self._dup_table()
        ci = d[10] if k > 10 else -1
        off = _ACC[ci - _ACC_CI0] if _ACC_CI0 <= ci < _ACC_CI0 + 64 else 0
        acc = d[10 + off] if off and 10 + off < k else 0x10000 | fp
        key = self._dkey
        for e in range(_NDUP):
            if not self._dvalid[e] or self._dacc[e] != acc:
                continue
            if now - self._dt[e] >= self.dup_window:
                continue
            o = e * 6
            same = True
            for i in range(6):
                if key[o + i] != d[2 + i]:
                    same = False
                    break
            if same:
                self._dt[e] = now
                return True
        e = self._dnext
        self._dnext = (e + 1) % _NDUP
        o = e * 6
        for i in range(6):
            key[o + i] = d[2 + i]
        self._dacc[e] = acc
        self._dt[e] = now
        self._dvalid[e] = 1
        return False

    # --- transmit -----------------------------------------------------------------------------
    def encode(self, mode, fmt, data, n, out):
        """Frame data[0:n] (L C M A CI ..., without CRCs; L is set here) -> on-air bytes after
        the sync word in out, with CRCs, marker (C1), line code (T1 3-of-6, S1 Manchester) and a
        postamble. Returns their count. ValueError for a length no frame can have."""
        tb = self._tbuf
        if tb is None:
            self._tbuf = tb = bytearray(_TX_FRAME)
        if mode == M.MODE_C1A or mode == M.MODE_C1B:
            fmt = M.FMT_A if mode == M.MODE_C1A else M.FMT_B
            out[0] = M.C_MARKER
            out[1] = M.C_FMT_A if fmt == M.FMT_A else M.C_FMT_B
            t = self.blocks.build_into(data, n, fmt, out, 2) + 2
        elif mode == M.MODE_T1:
            t = self.blocks.build_into(data, n, M.FMT_A, tb, 0)
            metercrypto.encode_3of6_into(tb, out, (t + 15) & ~15)
            c = (3 * t + 1) // 2
            if t & 1:
                out[c - 1] = (out[c - 1] & 0xF0) | 0x05  # 4 chips 0101: the postamble
                return c
            t = c
        elif mode == M.MODE_S1:
            t = self.blocks.build_into(data, n, M.FMT_A, tb, 0)
            t = M.man_encode_into(tb, 0, t, out, 0)
        else:
            raise ValueError("mode")
        out[t] = 0x55  # postamble: 8 chips 01010101 (EN 13757-4: 2 to 8 chips)
        return t + 1

