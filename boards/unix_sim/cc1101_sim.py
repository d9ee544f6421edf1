"""Register-level model of a TI CC1101 for the unix_sim board, with an "air" that carries
wireless M-Bus frames in virtual time. Runs in the MicroPython sim process (and CPython).

    sim = Cc1101Sim(now_fn)                   # now_fn() -> virtual ms (int, never goes back);
                                              # ticks_per_s=10**6 for a microsecond clock
    spi, gdo0, gdo2 = sim.spi, sim.gdo0, sim.gdo2   # what the driver gets from the board
    sim.inject(coded, "C1", rssi_dbm=-60, at=None)  # a frame on the air (bytes after the sync
                                              # word, as line coded on air; preamble, sync word
                                              # and postamble are added), starting at `at` or now
    sim.noise(nbytes, rssi_dbm=-95, at=None)  # random chips, no preamble (may match a sync word)
    sim.sent()                                # [(bytes after sync, mode, t_start)] the chip sent

The link to the rig only needs inject() and sent(). Times are in the clock's ticks.

SPI (SWRS061 10): CSn low starts a transaction; the first byte is the header (bit 7 read, bit 6
burst, address); the chip answers every header byte with its status byte (bit 7 CHIP_RDYn = 0,
bits 6..4 STATE, bits 3..0 FIFO bytes available: RX FIFO for reads, free TX FIFO bytes for writes,
saturated at 15). 0x30..0x3D without burst are strobes, with burst (and read) status registers;
0x3E PATABLE (8 bytes, index reset when CSn goes high), 0x3F the FIFOs.

Air and receiver. Each transmission is a chip stream: preamble + sync + payload + postamble
(T1: 19 "01" pairs + "0000111101"; C1: 16 pairs + 0x543D; S1: 279 pairs + "000111011010010110";
8 postamble chips), sent at its mode's chip rate from its start time. The chip in RX hunts for
SYNC1:SYNC0 in the chip streams of transmissions it can demodulate: carrier within a quarter of
the channel filter bandwidth, chip rate within the bit-sync limit (BSCFG.BS_LIMIT, at least 1 %),
and only sync words that began at least 8 chips after hunting started (SYNC_MODE 1/5: 15 of 16
bits, 2/6: 16/16, 3/7: 30 of 32 = the word twice; 0/4: no sync, never receives). From the sync
on, one byte enters the RX FIFO every 8 chips; past the end of the transmission the chip clocks in
noise. Bytes overlapping another transmission on the channel (any rate) that is less than 10 dB
weaker are garbled. Packet length (SWRS061 15.3) is checked live as each byte arrives, like the
chip's byte counter: fixed mode ends the packet when (bytes mod 256) == PKTLEN; variable mode
after 1 + the first byte (discarded if that exceeds PKTLEN); infinite never. So switching modes
at the wrong moment loses the end of a frame. At the end, MCSM1.RXOFF_MODE: RX hunts again at
once, else IDLE. The 65th byte in the FIFO: RXFIFO_OVERFLOW (MARCSTATE 0x11, STATE 6), no more
bytes until SFRX. SRX/STX from IDLE settle for 809 us with MCSM0.FS_AUTOCAL = 1, else 90 us
(SWRS061 table 34, rounded); SCAL takes 721 us.

Transmit: after STX settles, the chip sends NUM_PREAMBLE preamble bytes and the sync word (none
with SYNC_MODE 0/4), then TX FIFO bytes at the configured data rate; fixed/variable/infinite
length as on receive; an empty FIFO when a byte is due is TXFIFO_UNDERFLOW (STATE 7, MARCSTATE
0x16) until SFTX. At the end, MCSM1.TXOFF_MODE (IDLE or RX).

GDO0/GDO2 follow IOCFG0/IOCFG2: 0x00 RX FIFO >= threshold, 0x01 the same or end of packet,
0x02 TX FIFO >= threshold, 0x03 TX FIFO full, 0x04 RX overflow, 0x05 TX underflow, 0x06 sync word
sent/received until the end of the packet (low on overflow/underflow), 0x0E carrier sense,
0x29 CHIP_RDYn, 0x2E/0x2F/others low; bit 6 inverts. Thresholds from FIFOTHR (table 44).
RSSI (status 0x34) is (dBm + 74) * 2 (SWRS061 17.3) of the packet being received, else of the
strongest transmission on the channel, else -110 dBm; LQI (0x33) is set 8 bytes into a packet
from its level (stronger = lower).

Rules the model enforces and counts in `violations` (a list of strings): SFRX outside IDLE and
RXFIFO_OVERFLOW, SFTX outside IDLE and TXFIFO_UNDERFLOW, reading an empty RX FIFO, reading the
last RX FIFO byte while a packet is arriving (SWRZ020), writing a full TX FIFO.
"""
try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

MODES = {  # mode: (carrier Hz, chip rate, preamble "01" pairs, sync chips as (value, nbits))
    "T1": (868950000, 100000, 19, (0x03D, 10)),
    "C1": (868950000, 100000, 16, (0x543D, 16)),
    "S1": (868300000, 32768, 279, (0x07696, 18)),
    "T2": (868300000, 32768, 19, (0x03D, 10)),  # other-to-meter rates, for wrong-rate tests
    "C2": (869525000, 50000, 16, (0x543D, 16)),
}
_XOSC = const(26000000)
_NS = const(1000000000)

# register reset values 0x00..0x2E (a bytes literal: ROM when frozen)
_DEFAULTS = (b"\x29\x2e\x3f\x07\xd3\x91\xff\x04\x45\x00\x00\x0f\x00\x1e\xc4\xec"
             b"\x8c\x22\x02\x22\xf8\x47\x07\x30\x04\x36\x6c\x03\x40\x91\x87\x6b"
             b"\xf8\x56\x10\xa9\x0a\x20\x0d\x41\x00\x59\x7f\x3f\x88\x31\x0b")

# chip states (private consts: inlined, no globals)
_IDLE = const(0)
_SETTLE_RX = const(1)
_SETTLE_TX = const(2)
_CAL = const(3)
_RX = const(4)
_PKT = const(5)
_RXOVF = const(6)
_TX = const(7)
_TXUNF = const(8)
_SLEEP = const(9)
# (STATE bits of the status byte, MARCSTATE) by state, in the order above
_STATUS = ((0, 0x01), (5, 0x06), (5, 0x06), (4, 0x08), (1, 0x0D),
           (1, 0x0D), (6, 0x11), (2, 0x13), (7, 0x16), (0, 0x00))  # (a constant tuple: ROM when frozen)


class _Tx:
    """A transmission on the air from t0 (ns) at `rate`: its chips are `pairs` "01" preamble pairs,
    the sync word (value `sync`, `sn` chips), the bytes of `data` MSB first, then the postamble
    0x55 (frames; noise has no preamble, sync or postamble). The data is referenced, not copied
    into a chip stream: no second frame-sized buffer on a small heap. `data` is bytes, or a list
    of pieces of equal length but the last (a long frame staged piecewise: no frame-sized buffer
    at all)."""

    def __init__(self, t0, rate, freq, data, pairs, sync, sn, rssi, mode):
        if not isinstance(data, list):
            data = [data]
        # 12 attributes at most: the attribute table of each transmission stays small on the
        # meter's heap (sync word value and length packed in one int)
        self.t0, self.rate, self.freq = t0, rate, freq
        self.data = data
        self.n = n = sum(len(x) for x in data)
        self.sync = (sync << 5) | sn
        self.hdr = h = 2 * pairs + sn
        self.nbits = h + 8 * n + (8 if h else 0)
        self.rssi, self.mode = rssi, mode
        self.t1 = self.bit_end(self.nbits - 1)
        self.scan = 0  # next chip index to test for a sync word

    def bit_end(self, i):
        return self.t0 + (i + 1) * _NS // self.rate

    def bit(self, i):
        j = i - self.hdr
        if j >= 0:  # data, then the postamble
            k = j >> 3
            d = self.data
            p = len(d[0]) or 1
            return ((d[k // p][k % p] if k < self.n else 0x55) >> (7 - (j & 7))) & 1
        sn = self.sync & 31
        j += sn
        if j >= 0:  # sync word
            return (self.sync >> (5 + sn - 1 - j)) & 1
        return i & 1  # preamble "01" pairs


class SimPin:
    """A GDO output as the board HAL's pin: value(), irq(handler, trigger)."""

    def __init__(self, sim, idx):
        self.sim, self.idx = sim, idx
        self.handler = None
        self.level = 0
        self.edges = 0

    def value(self, v=None):
        self.sim.advance()
        return self.level

    def irq(self, handler=None, trigger=None):
        self.handler = handler


class Cc1101Sim:
    def __init__(self, now_fn, ticks_per_s=1000, seed=0x1F2E3D4C, capture_db=10):
        self.now_fn = now_fn
        self.tick_ns = _NS // ticks_per_s
        self.capture_db = capture_db
        self._rng = seed & 0xFFFFFFFF or 1
        self.air = []
        self._sent = []
        self.violations = []
        self.gdo0 = SimPin(self, 2)
        self.gdo2 = SimPin(self, 0)
        self.spi = self  # the board HAL's SPI device (one object less on a small heap)
        self._sel = False
        self._hdr = None
        self.transactions = 0
        self.t = now_fn() * self.tick_ns
        self._pending = []
        self._reset()

    # --- air -----------------------------------------------------------------------------------
    def inject(self, coded, mode, rssi_dbm=-60, at=None, rate=None, freq=None):
        """Queue a frame on the air. coded = bytes after the sync word as sent (C1: 0x54 0xCD/0x3D
        and the frame; T1: 3-of-6 chips; S1: Manchester chips). at: start of its preamble (ticks;
        default now). rate/freq override the mode's (a wrong-rate transmitter). Returns the time
        (ticks) its last chip ends. `coded` (bytes, or a list of pieces: _Tx) is kept while on
        the air: do not change it."""
        f, r, pairs, (sv, sn) = MODES[mode]
        return self._add(coded, pairs, sv, sn, rate or r, freq or f, rssi_dbm, mode, at)

    def noise(self, nbytes, rssi_dbm=-95, at=None, mode="C1", data=None):
        """Random chips (or `data`) on a mode's channel and rate, with no preamble."""
        f, r = MODES[mode][0], MODES[mode][1]
        if data is None:
            data = bytes(self._rand() & 0xFF for _ in range(nbytes))
        return self._add(data, 0, 0, 0, r, f, rssi_dbm, "noise", at)

    def _add(self, data, pairs, sync, sn, rate, freq, rssi, mode, at):
        self.advance()
        t0 = self.t if at is None else at * self.tick_ns
        tx = _Tx(t0, rate, freq, data, pairs, sync, sn, rssi, mode)
        self.air.append(tx)
        return -(-tx.t1 // self.tick_ns)

    def sent(self, clear=False):
        """What the chip transmitted: [(bytes after the sync word, mode, start tick)]."""
        self.advance()
        out = [(bytes(d), m, t // self.tick_ns) for d, m, t in self._sent if m != "?open"]
        if clear:
            self._sent = [s for s in self._sent if s[1] == "?open"]
        return out

    def _rand(self):
        x = self._rng
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._rng = x
        return x

    # --- configuration as the chip sees it ----------------------------------------------------
    def _reset(self):
        self.regs = bytearray(_DEFAULTS)
        self.patable = bytearray(8)
        self.patable[0] = 0xC6
        self.pa_idx = 0
        self.rxf = []
        self.txf = []
        self.state = _IDLE
        self.t_ready = 0
        self.after_settle = _IDLE
        self.pkt = None
        self.lqi = 0
        self.pkt_rssi = None
        self.hunt_start = 0
        self._set_levels()

    def rate(self):
        r = self.regs
        return (256 + r[0x11]) * (1 << (r[0x10] & 15)) * _XOSC / (1 << 28)

    def freq(self):
        r = self.regs
        return ((r[0x0D] << 16) | (r[0x0E] << 8) | r[0x0F]) * _XOSC / 65536

    def _on_channel(self, tx):  # within a quarter of the channel filter bandwidth (MDMCFG4)
        m4 = self.regs[0x10]
        bw = _XOSC / (8 * (4 + ((m4 >> 4) & 3)) * (1 << (m4 >> 6)))
        return abs(tx.freq - self.freq()) <= bw / 4

    # --- time ------------------------------------------------------------------------------------
    def advance(self, t_ns=None):
        """Run the chip up to now (or t_ns). Every SPI access and pin read calls it."""
        t = self.now_fn() * self.tick_ns if t_ns is None else t_ns
        while True:
            st = self.state
            if st in (_SETTLE_RX, _SETTLE_TX, _CAL):
                if self.t_ready > t:
                    break
                self._enter(self.after_settle, self.t_ready)
            elif st == _RX:
                if not self._hunt(t):
                    break
            elif st == _PKT:
                if not self._rx_byte(t):
                    break
            elif st == _TX:
                if not self._tx_byte(t):
                    break
            else:
                break
        if t > self.t:
            self.t = t
        air = self.air
        if air and air[0].t1 <= t - 2000000 and (self.pkt is None or air[0] is not self.pkt[0]):
            # forget transmissions over (none can sync or garble any more; 2 ms covers the byte
            # being received, 8 chips at the slowest rate: 0.25 ms): chip streams are the model's
            # largest heap use in the meter's process. Checked on the oldest only, so a busy air
            # is not re-listed on every access
            keep = self.pkt[0] if self.pkt else None
            self.air = [x for x in air if x.t1 > t - 2000000 or x is keep]
        self._set_levels()
        while self._pending:  # pin handlers, after the state is consistent
            p = self._pending.pop(0)
            if p.handler:
                p.handler(p)

    def _enter(self, st, when):
        self.state = st
        if st == _RX:
            self.hunt_start = when
            self.pkt = None
        elif st == _TX:
            self._tx_begin(when)
        self._set_levels(when)

    def _hunt(self, t):
        """Find the earliest sync word completed by t; start the packet there."""
        mode = self.regs[0x12] & 3
        if mode == 0:
            return False
        sync = (self.regs[0x04] << 8) | self.regs[0x05]
        width, maxerr, word = (16, 1, sync) if mode == 1 else ((16, 0, sync) if mode == 2 else
                                                              (32, 2, (sync << 16) | sync))
        best = None
        for tx in self.air:
            if tx.t1 < self.hunt_start or tx.t0 > t or not self._on_channel(tx):
                continue
            if tx.mode != "noise":  # chip rate within the bit-sync limit (BSCFG.BS_LIMIT, >= 1 %)
                lim = (0.01, 0.03125, 0.0625, 0.125)[self.regs[0x1A] & 3]
                if abs(tx.rate - self.rate()) > max(lim, 0.01) * self.rate():
                    continue
            # first chip whose window starts >= 8 chips after hunting began
            i0 = 0
            if self.hunt_start > tx.t0:
                i0 = (self.hunt_start - tx.t0) * tx.rate // _NS + 1
            lo = max(tx.scan, i0 + 8 + width - 1)
            if lo >= tx.nbits or tx.bit_end(lo) > t:
                tx.scan = lo
                continue
            reg = 0
            for k in range(lo - width + 1, lo):
                reg = ((reg << 1) | (tx.bit(k) if k >= 0 else 0))
            mask = (1 << width) - 1
            i = lo
            while i < tx.nbits and tx.bit_end(i) <= t:
                reg = ((reg << 1) | tx.bit(i)) & mask
                if _popcount((reg ^ word) & mask) <= maxerr:
                    te = tx.bit_end(i)
                    if best is None or te < best[0]:
                        best = (te, tx, i)
                    break
                i += 1
            tx.scan = i
        if best is None:
            return False
        te, tx, i = best
        tx.scan = i + 1
        self.state = _PKT
        self._vlen = 0
        self.pkt = [tx, i + 1, 0, te]  # source, next chip index, bytes so far, last byte time
        self.pkt_rssi = tx.rssi
        self._set_levels(te)
        return True

    def _rx_byte(self, t):
        tx, i, n, _ = self.pkt
        te = tx.t0 + (i + 8) * _NS // tx.rate
        if te > t:
            return False
        if i + 8 <= tx.nbits:
            b = 0
            for k in range(i, i + 8):
                b = (b << 1) | tx.bit(k)
            ts = tx.t0 + i * _NS // tx.rate
            for o in self.air:  # another transmission on the channel, less than capture_db weaker
                if (o is not tx and o.t1 >= ts and o.t0 <= te and o.rssi > tx.rssi - self.capture_db
                        and self._on_channel(o)):
                    b ^= (self._rand() & 0xFF) or 0x5A  # garbled
                    break
        else:
            b = self._rand() & 0xFF  # past the transmission: the demodulator outputs noise
        pkt = self.pkt  # updated in place: no list per byte
        pkt[1], pkt[2], pkt[3] = i + 8, n + 1, te
        if len(self.rxf) >= 64:
            self.state = _RXOVF
            self.pkt = None
            self._set_levels(te)
            return False
        self.rxf.append(b)
        n += 1
        if n == 8:
            self.lqi = max(0, min(127, -50 - tx.rssi)) if i + 8 <= tx.nbits else 127
        lc = self.regs[0x08] & 3
        plen = self.regs[0x06]
        end = False
        if lc == 0:
            end = (n & 0xFF) == plen
        elif lc == 1:
            if n == 1:
                self._vlen = b
            if self._vlen > plen:
                end = True  # discarded by the chip
            else:
                end = n == self._vlen + 1
        if end:
            off = (self.regs[0x17] >> 2) & 3
            if off == 3:
                self.state = _RX
                self.hunt_start = te
                self.pkt = None
            else:
                self.state = _IDLE
                self.pkt = None
        self._set_levels(te)
        return True

    # --- transmit ------------------------------------------------------------------------------
    def _tx_begin(self, when):
        r = self.regs
        pre = (2, 3, 4, 6, 8, 12, 16, 24)[(r[0x13] >> 4) & 7]
        sync = (r[0x12] & 3) != 0
        hdr = 8 * (pre + (2 if sync else 0)) if sync else 0
        self._txs = [when, self.rate(), hdr, 0]  # start, rate, header chips, bytes sent
        self._sent.append((bytearray(), "?open", when))

    def _tx_byte(self, t):
        t0, rate, hdr, n = self._txs
        te = t0 + int((hdr + 8 * (n + 1)) * _NS / rate)
        if te > t:
            return False
        if not self.txf:
            self.state = _TXUNF
            self._close_tx()
            self._set_levels(te)
            return False
        b = self.txf.pop(0)
        self._sent[-1][0].append(b)
        n += 1
        self._txs[3] = n
        lc = self.regs[0x08] & 3
        end = (lc == 0 and (n & 0xFF) == self.regs[0x06]) or (
            lc == 1 and n == self._sent[-1][0][0] + 1)
        if end:
            self._close_tx()
            self.state = _RX if (self.regs[0x17] & 3) == 3 else _IDLE
            self.hunt_start = te
        self._set_levels(te)
        return True

    def _close_tx(self):
        d, _, t0 = self._sent[-1]
        mode = self._classify(d)
        if (self.regs[0x12] & 3) == 0:  # no chip sync: find the S sync word in the FIFO data
            k = bytes(d).find(b"\x54\x76\x96")
            d = d[k + 3:] if k >= 0 else d
        self._sent[-1] = (d, mode, t0)

    def _classify(self, d):
        f, r = self.freq(), self.rate()
        for m in ("C1", "S1", "C2"):
            mf, mr = MODES[m][0], MODES[m][1]
            if abs(mf - f) < 100000 and abs(mr - r) < 0.02 * mr:
                if m == "C1" and not (len(d) and d[0] == 0x54):
                    return "T1"
                return m
        return "?"

    # --- outputs ---------------------------------------------------------------------------------
    def _signal(self, cfg):
        sel = cfg & 0x3F
        st = self.state
        thr = 4 * ((self.regs[0x03] & 15) + 1)
        if sel == 0x00:
            v = len(self.rxf) >= thr
        elif sel == 0x01:
            v = len(self.rxf) >= thr or (st != _PKT and len(self.rxf) > 0)
        elif sel == 0x02:
            v = len(self.txf) >= 65 - thr
        elif sel == 0x03:
            v = len(self.txf) >= 64
        elif sel == 0x04:
            v = st == _RXOVF
        elif sel == 0x05:
            v = st == _TXUNF
        elif sel == 0x06:
            v = st == _PKT  # or transmitting past the sync word:
            if st == _TX:
                t0, rate, hdr, _ = self._txs
                v = self.t >= t0 + int(hdr * _NS / rate)
        elif sel == 0x0E:
            v = self._rssi_now() > -90
        else:
            v = False
        return (1 if v else 0) ^ ((cfg >> 6) & 1)

    def _set_levels(self, when=None):
        for pin in (self.gdo0, self.gdo2):
            v = self._signal(self.regs[pin.idx])
            if v != pin.level:
                pin.level = v
                pin.edges += 1
                if pin.handler:
                    self._pending.append(pin)

    def _rssi_now(self):
        if self.state == _PKT and self.pkt_rssi is not None:
            return self.pkt_rssi
        best = -110
        for tx in self.air:
            if tx.t0 <= self.t <= tx.t1 and self._on_channel(tx) and tx.rssi > best:
                best = tx.rssi
        return best

    # --- register file -------------------------------------------------------------------------
    def status(self, read):
        s, _ = _STATUS[self.state]
        n = len(self.rxf) if read else 64 - len(self.txf)
        return (s << 4) | (15 if n > 15 else n)

    def strobe(self, a):
        st = self.state
        autocal = (self.regs[0x18] >> 4) & 3 == 1
        if a == 0x30:  # SRES
            self._reset()
        elif a == 0x36 or a == 0x32 or a == 0x31:  # SIDLE, SXOFF, SFSTXON
            if st == _TX:
                self._close_tx()
            self.state = _IDLE
            self.pkt = None
        elif a == 0x34:  # SRX
            if st in (_IDLE, _TX):
                self.state = _SETTLE_RX
                self.after_settle = _RX
                self.t_ready = self.t + (809000 if autocal and st == _IDLE else 90000)
        elif a == 0x35:  # STX
            if st in (_IDLE, _RX, _PKT):
                self.state = _SETTLE_TX
                self.after_settle = _TX
                self.t_ready = self.t + (809000 if autocal and st == _IDLE else 90000)
        elif a == 0x33:  # SCAL
            if st == _IDLE:
                self.state = _CAL
                self.after_settle = _IDLE
                self.t_ready = self.t + 721000
        elif a == 0x3A:  # SFRX
            if st in (_IDLE, _RXOVF):
                self.rxf = []
                self.state = _IDLE
            else:
                self.violations.append("SFRX in state %d" % st)
        elif a == 0x3B:  # SFTX
            if st in (_IDLE, _TXUNF):
                self.txf = []
                self.state = _IDLE
            else:
                self.violations.append("SFTX in state %d" % st)
        elif a == 0x39:  # SPWD
            self.state = _SLEEP
            for k in (0x2C, 0x2D, 0x2E, 0x29, 0x2A, 0x2B):
                self.regs[k] = _DEFAULTS[k]  # lost in SLEEP (SWRS061 19.5)
            for k in range(1, 8):
                self.patable[k] = 0
        self._set_levels()

    def read_status_reg(self, a):
        if a == 0x30:
            return 0x00  # PARTNUM
        if a == 0x31:
            return 0x14  # VERSION
        if a == 0x33:
            return self.lqi & 0x7F
        if a == 0x34:
            v = (self._rssi_now() + 74) * 2
            return max(-128, min(127, v)) & 0xFF
        if a == 0x35:
            return _STATUS[self.state][1]
        if a == 0x38:
            return ((1 if self.state == _PKT else 0) << 3)
        if a == 0x3A:
            return (0x80 if self.state == _TXUNF else 0) | len(self.txf)
        if a == 0x3B:
            return (0x80 if self.state == _RXOVF else 0) | len(self.rxf)
        return 0

    def fifo_read(self):
        if not self.rxf:
            self.violations.append("read from an empty RX FIFO")
            return 0
        if len(self.rxf) == 1 and self.state == _PKT:
            self.violations.append("last RX FIFO byte read while a packet arrives")
        return self.rxf.pop(0)

    # --- the board HAL's SPI device (select, transfer, write, readinto): the model itself ------
    def select(self, on):
        on = bool(on)
        if on and not self._sel:
            self._hdr = None
            self.advance()
            if self.state == _SLEEP:  # CSn low wakes the chip (SWRS061 19.5)
                self.state = _IDLE
        if not on and self._sel:
            self.transactions += 1
            self.pa_idx = 0
        self._sel = on

    def _byte(self, b):
        if not self._sel:
            return 0xFF
        if self._hdr is None:
            self._hdr = b
            a = b & 0x3F
            read = bool(b & 0x80)
            burst = bool(b & 0x40)
            st = self.status(read)
            if 0x30 <= a <= 0x3D and not (read and burst):
                self.strobe(a)
                self._hdr = None  # a strobe is a single byte; more bytes are further headers
            return st
        a = self._hdr & 0x3F
        read = bool(self._hdr & 0x80)
        burst = bool(self._hdr & 0x40)
        self.advance()
        if a == 0x3F:
            if read:
                return self.fifo_read()
            if len(self.txf) >= 64:
                self.violations.append("TX FIFO overflow")
            else:
                self.txf.append(b)
            self._set_levels()
            return self.status(False)
        if a == 0x3E:
            i = self.pa_idx & 7
            self.pa_idx += 1
            if read:
                return self.patable[i]
            self.patable[i] = b
            return self.status(False)
        if 0x30 <= a <= 0x3D:
            v = self.read_status_reg(a)
            self._hdr = None
            return v
        if read:
            v = self.regs[a] if a < 0x2F else 0
        else:
            self.regs[a] = b & 0xFF
            self._set_levels()
            v = self.status(False)
        if burst:
            self._hdr = (self._hdr & 0xC0) | ((a + 1) & 0x3F)
        else:
            self._hdr = None
        return v

    def transfer(self, tx, rx):
        for i in range(len(tx)):
            rx[i] = self._byte(tx[i])

    def write(self, buf):
        for b in buf:
            self._byte(b)

    def readinto(self, buf, write=0):
        for i in range(len(buf)):
            buf[i] = self._byte(write)


def _popcount(x):
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n
