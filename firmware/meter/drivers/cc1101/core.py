# CC1101 driver core for wireless M-Bus: a polling engine (no clock, no asyncio). The callers only
# decide when service() runs: the meter's radio port (ports/radio.py) every poll_ms of the board
# clock, the blocking wrapper sync.py for scripts and bring-up.
#
#     radio = CC1101(board.spi("radio"), board.pin("radio_gdo0"), board.pin("radio_gdo2"),
#                    length_fn=mode.expected_length, bufs=link.rx_buffers(2))
#     radio.reset(); radio.start_rx(FAMILY_TC)
#     ev = radio.service()                  # call on every GDO edge and at least every few ms
#     while radio.ready():                  # completed packets, oldest first
#         i = radio.peek(); link.read(radio.bufs[i], radio.lens[i], radio.family, radio.rssi[i],
#                                     radio.lqi[i], now); radio.release()
#
# The driver knows no wM-Bus: `length_fn(buf, n, family)` (from the link core, passed in by the
# port, since a driver must not import a core) turns the first bytes of a packet into its length
# on air, NEED_MORE (-1) or BAD (< -1).
#
# Receive, per packet (SWRS061 15.3, "packet length > 255 bytes"): every packet starts in infinite
# length mode. Once the first bytes give the length, PKTLEN = length mod 256 and, as soon as fewer
# than 256 bytes remain, fixed length mode: the chip then ends the packet exactly there and, with
# RXOFF_MODE = RX, goes straight back to sync search. After the packet's last byte is read the
# driver re-arms infinite mode; until then a new packet would start in fixed mode and end after
# PKTLEN bytes, so the re-arm deadline is the next packet's preamble + sync + PKTLEN bytes.
# A length of a multiple of 256 cannot be programmed (PKTLEN 0): such a packet is read in infinite
# mode and ended with SIDLE/SFRX. Errata (SWRZ020): RXBYTES/TXBYTES are read until two reads
# agree, and the last RX FIFO byte is never read while a packet is arriving. Overflow (SWRS061
# 10.5): SIDLE, SFRX, re-arm, SRX; complete packets still in the FIFO are saved first.
# First bytes that are no wM-Bus packet (noise that matched the sync word) end the packet at once
# (SIDLE/SFRX/SRX), so the chip hunts again instead of filling the FIFO with noise.
import array

from micropython import const

from meter.drivers.cc1101 import regs as R

# The chip's SPI protocol, private consts (inlined, no dict entries: RAM on small heaps).
# SPI header (SWRS061 10.1): bit 7 read, bit 6 burst, bits 5..0 address
_READ = const(0x80)
_BURST = const(0x40)
# configuration registers the driver steers per packet (SWRS061 table 43)
_FIFOTHR = const(0x03)
_PKTLEN = const(0x06)
_PKTCTRL0 = const(0x08)
_MCSM0 = const(0x18)
# command strobes (SWRS061 table 42)
_SRES = const(0x30)
_SCAL = const(0x33)
_SRX = const(0x34)
_SIDLE = const(0x36)
_SPWD = const(0x39)
_SFRX = const(0x3A)
_SNOP = const(0x3D)
# status registers, read with READ | BURST (SWRS061 table 44)
_PARTNUM = const(0x30)
_VERSION = const(0x31)
_LQI = const(0x33)  # bit 7 CRC_OK, 6..0 LQI
_RSSI = const(0x34)
_RXBYTES = const(0x3B)  # bit 7 RXFIFO_OVERFLOW, 6..0 bytes
_PATABLE = const(0x3E)
_FIFO = const(0x3F)
_FIFO_SIZE = const(64)
# chip status byte bits 6..4 STATE (SWRS061 10.1, table 23)
_ST_RXFIFO_OVERFLOW = const(6)
# PKTCTRL0.LENGTH_CONFIG (SWRS061 15.3) with the other PKTCTRL0 bits of RX_TC (all 0)
_LEN_FIXED = const(0)
_LEN_INFINITE = const(2)

EV_FRAME = const(1)
EV_OVERFLOW = const(2)
EV_TRUNCATED = const(4)  # a packet ended before its length (its tail was lost)
EV_NOISE = const(8)  # a sync match whose first bytes are no packet: dropped
EV_LATE = const(16)  # the fixed-length switch came after the packet's end; recovered
EV_TX_DONE = const(32)
EV_TX_FAIL = const(64)  # TX FIFO underflow

_HUNT = const(0)
_PKT = const(1)
_TX = const(2)
_OFF = const(3)

NEED_MORE = const(-1)

_tx = None  # the transmit module (tx.py), imported by the first transmit()


class CC1101Error(Exception):
    pass


class CC1101:
    def __init__(self, spi, gdo0, gdo2, length_fn, bufs, pa=R.PA_0DBM):
        self.spi = spi
        self.gdo0 = gdo0
        self.gdo2 = gdo2
        self.length_fn = length_fn
        self.bufs = bufs
        k = len(bufs)
        self.lens = array.array("i", [0] * k)
        self.rssi = array.array("i", [0] * k)  # dBm
        self.lqi = array.array("i", [0] * k)
        self.pa = pa
        self.family = 0
        # shared command buffer (micropython-lib lora style) and fixed views of it: nothing is
        # allocated after construction. Burst data moves a byte at a time within one CSn-low
        # transaction (the chip's burst address keeps running until CSn rises, SWRS061 10.3), so
        # no FIFO-sized buffer or view per length is needed
        self._b = bytearray(2)
        self._r = bytearray(2)
        mb = memoryview(self._b)
        mr = memoryview(self._r)
        self._c1, self._r1 = mb[:1], mr[:1]
        self._pb = bytearray(4)
        self._head = 0
        self._count = 0
        self._st = _OFF
        self._slot = -1
        self._got = 0
        self._need = -1
        self._fixed = False
        # transmit state (_tx_src, _tx_n, _tx_end, _tx_pos, _tx_fixed) is set by transmit(): a
        # receive-only meter's instance stays in a smaller attribute table
        # counters (small ints)
        self.frames = 0
        self.overflows = 0
        self.truncated = 0
        self.noise = 0
        self.late = 0
        self.dropped = 0  # packets with no free buffer
        self.underflows = 0

    # --- SPI primitives (SWRS061 10) ----------------------------------------------------------
    def strobe(self, cmd):
        """Command strobe; returns the chip status byte."""
        self._c1[0] = cmd
        spi = self.spi
        spi.select(1)
        spi.transfer(self._c1, self._r1)
        spi.select(0)
        return self._r[0]

    def write_reg(self, addr, value):
        b = self._b
        b[0] = addr
        b[1] = value
        spi = self.spi
        spi.select(1)
        spi.transfer(b, self._r)
        spi.select(0)

    def read_reg(self, addr):
        """Configuration register (0x00..0x2E), or status register (0x30..0x3D: burst bit)."""
        b = self._b
        b[0] = addr | (_READ | _BURST if addr >= 0x30 else _READ)
        b[1] = 0
        spi = self.spi
        spi.select(1)
        spi.transfer(b, self._r)
        spi.select(0)
        return self._r[1]

    def _read_stable(self, addr):
        """Status register read until two reads agree (SWRZ020 'SPI read synchronization')."""
        v = self.read_reg(addr)
        for _ in range(8):
            w = self.read_reg(addr)
            if w == v:
                return v
            v = w
        return v

    def write_burst(self, addr, data):
        self._write_chunks(addr | _BURST, data, 0, len(data))

    def _write_chunks(self, hdr, src, s, k):
        """Header, then src[s:s+k] a byte at a time, in one transaction."""
        c1 = self._c1
        c1[0] = hdr
        spi = self.spi
        spi.select(1)
        spi.transfer(c1, self._r1)
        for i in range(s, s + k):
            c1[0] = src[i]
            spi.write(c1)
        spi.select(0)

    def _read_fifo(self, dst, d, k):
        """k bytes of the RX FIFO into dst[d:d+k] (dst None: discard)."""
        self._c1[0] = _FIFO | _READ | _BURST
        spi = self.spi
        r = self._r
        r1 = self._r1
        spi.select(1)
        spi.transfer(self._c1, r1)
        for i in range(d, d + k):
            spi.readinto(r1, 0)
            if dst is not None:
                dst[i] = r[0]
        spi.select(0)

    # --- setup and states ---------------------------------------------------------------------
    def reset(self):
        """SRES, then check the chip answers (PARTNUM 0x00, a known VERSION)."""
        self.strobe(_SRES)
        for _ in range(1000):
            if not self.strobe(_SNOP) & 0x80:  # CHIP_RDYn low: crystal running
                break
        else:
            raise CC1101Error("not ready")
        if self.read_reg(_PARTNUM) != 0 or self.read_reg(_VERSION) in (0, 0xFF):
            raise CC1101Error("no CC1101")
        self._st = _OFF
        self._count = self._head = 0

    def _load(self, family, patch):
        self.write_burst(0, R.RX_TC)
        if family == 1:
            self._patch(R.RX_S)
        if patch:
            self._patch(patch)
        self.write_reg(_PATABLE, self.pa)  # PATABLE[0], used with FREND0.PA_POWER = 0

    def _patch(self, p):
        """Register writes from bytes of (address, value) pairs (regs.RX_S, TX_*)."""
        for i in range(0, len(p), 2):
            self.write_reg(p[i], p[i + 1])

    def idle(self):
        self.strobe(_SIDLE)
        self._st = _OFF

    def sleep(self):
        """SIDLE then SPWD: the chip sleeps when CSn goes high. TEST0..2 and PATABLE are lost in
        SLEEP (SWRS061 19.5); start_rx()/transmit() rewrite every register."""
        self.strobe(_SIDLE)
        self.strobe(_SPWD)
        self._st = _OFF

    def calibrate(self):
        """Manual synthesizer calibration from IDLE (SCAL, ~720 us). With MCSM0.FS_AUTOCAL = 1 the
        chip also calibrates on every IDLE -> RX/TX."""
        self.strobe(_SIDLE)
        self.strobe(_SCAL)
        self._st = _OFF

    def start_rx(self, family=0):
        """Receive with the T1+C1 (family 0) or S1 (family 1) register set."""
        self.strobe(_SIDLE)
        self._load(family, None)
        self.family = family
        self.strobe(_SFRX)
        self._strobe_cal(_SRX)
        self._st = _HUNT
        self._slot = -1

    def _strobe_cal(self, cmd):
        """SRX/STX from IDLE with calibration (FS_AUTOCAL for this one transition)."""
        self.write_reg(_MCSM0, R.MCSM0_CAL)
        self.strobe(cmd)
        self.write_reg(_MCSM0, R.RX_TC[_MCSM0])

    def _rearm(self):
        """Ready for the next packet: infinite length, FIFO threshold at 4 bytes."""
        self.write_reg(_PKTCTRL0, _LEN_INFINITE)
        self.write_reg(_FIFOTHR, R.RX_TC[_FIFOTHR])

    def _restart(self):
        """Drop what the FIFO holds and hunt again (SFRX only in IDLE or overflow: SWRS061 10.4)."""
        self.strobe(_SIDLE)
        self.strobe(_SFRX)
        self._rearm()
        self.strobe(_SRX)
        self._abandon()

    def _abandon(self):
        self._st = _HUNT
        self._slot = -1

    # --- received packets ---------------------------------------------------------------------
    def ready(self):
        return self._count

    def peek(self):
        return self._head if self._count else -1

    def release(self):
        if self._count:
            self._head = (self._head + 1) % len(self.bufs)
            self._count -= 1

    def _free_slot(self):
        k = len(self.bufs)
        if self._count >= k:
            return -1
        return (self._head + self._count) % k

    # --- the FIFO service ---------------------------------------------------------------------
    def service(self):
        """Move bytes out of the RX FIFO (or into the TX FIFO) and steer the packet length.
        Returns a bitmask of EV_* events. Allocation-free; call from a GDO edge or a timer."""
        if self._st == _TX:
            return _tx.service(self)
        if self._st == _OFF:
            return 0
        ev = 0
        for _ in range(8):  # a few packets at most can sit in a 64-byte FIFO
            rxb = self._read_stable(_RXBYTES)
            state = (self._r[0] >> 4) & 7
            count = rxb & 0x7F
            if rxb & 0x80 or state == _ST_RXFIFO_OVERFLOW:
                return ev | self._overflow(count)
            if self._st == _HUNT:
                if count == 0:
                    return ev
                self._begin()
            receiving = self.gdo2.value()
            avail = count - 1 if receiving and count else count
            need = self._need
            if need < 0:
                ev |= self._probe(avail, receiving)
                if self._st != _PKT or self._need < 0:
                    return ev
                continue
            if not self._fixed and need - self._got - count < 256:
                if need - self._got - count <= 0:
                    ev |= self._finish_late()
                    continue
                self._go_fixed()
            k = need - self._got
            if k > avail:
                k = avail
            if k > 0:
                self._take(k)
            if self._got >= need:
                ev |= self._complete()
                continue
            if not receiving and count <= k:  # the chip ended the packet short of its length
                self.truncated += 1
                self._rearm()
                self._abandon()
                return ev | EV_TRUNCATED
            return ev
        return ev

    def _begin(self):
        self._slot = self._free_slot()
        self._got = 0
        self._need = -1
        self._fixed = False
        s = self._slot
        if s >= 0:
            self.rssi[s] = R.rssi_dbm(self.read_reg(_RSSI))
        self._st = _PKT

    def _take(self, k):
        s = self._slot
        while k > 0:
            j = k if k <= _FIFO_SIZE else _FIFO_SIZE
            self._read_fifo(self.bufs[s] if s >= 0 else None, self._got, j)
            self._got += j
            k -= j

    def _probe(self, avail, receiving):
        """Read the first bytes and ask the link core for the packet length."""
        need = self._need
        while need < 0:
            if avail <= 0:
                if not receiving:
                    self.truncated += 1  # ended before it could even be told
                    self._rearm()
                    self._abandon()
                    return EV_TRUNCATED
                return 0
            s = self._slot
            buf = self.bufs[s] if s >= 0 else self._pb  # no free buffer: still find the length
            k = 3 - self._got if self._got < 3 else 1
            if k > avail:
                k = avail
            self._read_fifo(buf, self._got, k)
            self._got += k
            avail -= k
            need = self.length_fn(buf, self._got, self.family)
            if need < NEED_MORE or (need >= 0 and s >= 0 and need > len(self.bufs[s])):
                self.noise += 1
                self._restart()
                return EV_NOISE
        self._need = need
        self.write_reg(_FIFOTHR, R.FIFOTHR_BULK)
        return 0

    def _go_fixed(self):
        need = self._need
        if need & 0xFF == 0:
            return  # PKTLEN 0 is not allowed: stay infinite, end with SIDLE (_complete)
        self.write_reg(_PKTLEN, need & 0xFF)
        self.write_reg(_PKTCTRL0, _LEN_FIXED)
        self._fixed = True

    def _finish_late(self):
        """The whole packet arrived while still in infinite mode: stop the chip, read the packet
        and hunt again."""
        self.strobe(_SIDLE)
        self.late += 1
        self._take(self._need - self._got)
        ev = self._complete_slot()
        self.strobe(_SFRX)
        self._rearm()
        self.strobe(_SRX)
        return ev | EV_LATE

    def _complete(self):
        ev = self._complete_slot()
        if self._fixed:
            self._rearm()  # the end-of-packet re-arm: the next packet must start infinite
        else:  # length multiple of 256, read in infinite mode: end the packet by hand
            self.strobe(_SIDLE)
            self.strobe(_SFRX)
            self._rearm()
            self.strobe(_SRX)
        return ev

    def _complete_slot(self):
        s = self._slot
        self._st = _HUNT
        self._slot = -1
        if s < 0:
            self.dropped += 1
            return 0
        self.lens[s] = self._need
        self.lqi[s] = self.read_reg(_LQI) & 0x7F
        self._count += 1
        self.frames += 1
        return EV_FRAME

    def _overflow(self, count):
        """RXFIFO_OVERFLOW: save a packet whose bytes are all in the FIFO, then flush."""
        ev = EV_OVERFLOW
        self.overflows += 1
        if self._st == _PKT and self._need >= 0 and self._got + count >= self._need:
            self._take(self._need - self._got)
            ev |= self._complete_slot()
        self._restart()
        return ev

    # --- transmit (tx.py: loaded at the first transmit, a receive-only meter never loads it) --
    def transmit(self, src, n, patch, s1=False):
        """Start sending src[0:n] (bytes after the sync word, from the link core's encode) with
        a TX patch from regs (TX_T1, TX_C1, TX_S). S1 puts its own preamble and sync word in the
        FIFO first. Then call service() until EV_TX_DONE or EV_TX_FAIL; RX must be restarted
        after."""
        global _tx
        if _tx is None:
            from meter.drivers.cc1101 import tx as _t
            _tx = _t
        _tx.start(self, src, n, patch, s1)
