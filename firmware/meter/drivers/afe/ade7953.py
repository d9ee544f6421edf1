# ADE7953 (Analog Devices) single-phase energy metering IC, two current channels, over SPI.
#
# SPI framing (datasheet "SPI interface"): CS low, 16-bit register address MSB first, one command
# byte (0x80 = read, 0x00 = write), then the register's 8/16/24/32 data bits MSB first. The register
# width follows from the address: 0x0xx 8-bit, 0x1xx 16-bit, 0x2xx 24-bit, 0x3xx the same 24-bit
# registers sign/zero-extended to 32 bits. CPOL = 1 / CPHA = 1 (the board sets the bus up).
#
# Energy registers AENERGYA/B (0x21E/0x21F, active) and RENERGYA/B (0x220/0x221, reactive) are
# 24-bit signed accumulators (ACCMODE = 0: signed accumulation, import counts up, export down).
# Two modes, chosen by calibration['rstread']:
#   True  (default; LCYCMODE bit 6 RSTREAD = 1, the chip's reset value): every read returns the
#         counts since the previous read and clears the register;
#   False (RSTREAD = 0): the register keeps accumulating and wraps from 0x7FFFFF to 0x800000; the
#         driver keeps the previous value and takes the difference modulo 2**24.
# In both modes a per-read delta must stay below 2**23 counts (max_delta).
# Every energy read is checked against LAST_RWDATA24 (0x2FF): the chip's copy of the data it sent.
# With RSTREAD a corrupted transfer is recovered from that copy; without it the read is simply
# retried at the next tick (nothing was cleared).
#
# Channel B: calibration['channel_b'] = 'neutral' (default: IRMSB is the neutral current, for tamper
# detection; its energy is not billed) or 'circuit2' (a second metered circuit on the same voltage,
# reported as phase index 1).
#
# Instantaneous registers are scaled with calibration fractions (num, den) found in CALIBRATION.md:
# v_scale (VRMS -> 0.1 V), i_scale (IRMSx -> mA), p_scale (xWATT -> W), q_scale (xVAR -> var),
# s_scale (xVA -> VA). PFx is 16-bit signed with 2**-15 per LSB; line frequency = 223.75 kHz /
# (Period + 1). Register addresses follow the datasheet register map (Rev. C, tables 13-15); the
# 0x120 = 0x30 "optimum setting" after unlocking with 0xFE = 0xAD is from the datasheet too.
from meter.drivers import afe as A
from meter.drivers.afe import (E_IMP, E_EXP, E_QPOS, E_QNEG, EK, IK, I_V, I_I, I_P, I_Q, I_S, I_PF,
                       I_FREQ, I_IN, fraction)
from meter.common.arith import muldiv, smuldiv

SAGCYC = 0x000
LCYCMODE = 0x004
PGA_V = 0x007
PGA_IA = 0x008
PGA_IB = 0x009
UNLOCK = 0x0FE
CONFIG = 0x102
PFA = 0x10A
PFB = 0x10B
PERIOD = 0x10E
RESERVED_120 = 0x120
ACCMODE = 0x201
AVA = 0x210
BVA = 0x211
AWATT = 0x212
BWATT = 0x213
AVAR = 0x214
BVAR = 0x215
IRMSA = 0x21A
IRMSB = 0x21B
VRMS = 0x21C
AENERGYA = 0x21E
AENERGYB = 0x21F
RENERGYA = 0x220
RENERGYB = 0x221
LAST_RWDATA24 = 0x2FF
AIGAIN = 0x280
AVGAIN = 0x281
AWGAIN = 0x282
AVARGAIN = 0x283
AVAGAIN = 0x284
AIRMSOS = 0x286
VRMSOS = 0x288
AWATTOS = 0x289
AVAROS = 0x28A
AVAOS = 0x28B
BIGAIN = 0x28C
BWGAIN = 0x28E
BVARGAIN = 0x28F
BVAGAIN = 0x290
BIRMSOS = 0x292
BWATTOS = 0x295
BVAROS = 0x296
BVAOS = 0x297

RSTREAD = 0x40
MAX_DELTA = 0x7FFFFF
PERIOD_CLOCK_MHZ = 223750000  # 223.75 kHz in mHz

_CAL_REGS = (("aigain", AIGAIN), ("avgain", AVGAIN), ("awgain", AWGAIN), ("avargain", AVARGAIN),
             ("avagain", AVAGAIN), ("airmsos", AIRMSOS), ("vrmsos", VRMSOS), ("awattos", AWATTOS),
             ("avaros", AVAROS), ("avaos", AVAOS), ("bigain", BIGAIN), ("bwgain", BWGAIN),
             ("bvargain", BVARGAIN), ("bvagain", BVAGAIN), ("birmsos", BIRMSOS), ("bwattos", BWATTOS),
             ("bvaros", BVAROS), ("bvaos", BVAOS))

# (register, channel index within the phase) for the four energy registers, by current channel
_EREG = ((AENERGYA, RENERGYA), (AENERGYB, RENERGYB))


def _width(addr):
    page = addr >> 8
    if page == 0 or page == 7 or page == 8:
        return 1
    if page == 1:
        return 2
    if page == 2:
        return 3
    return 4


class ADE7953:
    name = "ade7953"
    max_delta = MAX_DELTA
    has_reactive = True

    def __init__(self, spi, cal):
        self.spi = spi
        self.cal = cal
        self.rstread = cal.get("rstread", True)
        self.channel_b = cal.get("channel_b", "neutral")
        if self.channel_b not in ("neutral", "circuit2"):
            raise ValueError("channel_b must be 'neutral' or 'circuit2'")
        self.phases = 2 if self.channel_b == "circuit2" else 1
        self.counts_per_wh, self.counts_per_wh_den = fraction(cal.get("counts_per_wh", 100))
        self.counts_per_varh, self.counts_per_varh_den = fraction(
            cal.get("counts_per_varh", cal.get("counts_per_wh", 100)))
        self._vs = fraction(cal.get("v_scale", 1))
        self._is = fraction(cal.get("i_scale", 1))
        self._ibs = fraction(cal.get("ib_scale", cal.get("i_scale", 1)))
        self._ps = fraction(cal.get("p_scale", 1))
        self._qs = fraction(cal.get("q_scale", cal.get("p_scale", 1)))
        self._ss = fraction(cal.get("s_scale", cal.get("p_scale", 1)))
        self.errors = 0
        self._tx = bytearray(7)
        self._rx = bytearray(7)
        self._bufs = [(bytearray(3 + n), bytearray(3 + n)) for n in range(5)]
        self._last = [0, 0, 0, 0]  # previous accumulator values (RSTREAD = 0)

    # --- register access -------------------------------------------------------------------------
    def _xfer(self, addr, cmd, value):
        n = _width(addr)
        tx, rx = self._bufs[n]
        tx[0] = (addr >> 8) & 0xFF
        tx[1] = addr & 0xFF
        tx[2] = cmd
        for i in range(n):
            tx[3 + i] = (value >> (8 * (n - 1 - i))) & 0xFF
        spi = self.spi
        spi.select(1)
        spi.transfer(tx, rx)
        spi.select(0)
        v = 0
        for i in range(n):
            v = (v << 8) | rx[3 + i]
        return v

    def read(self, addr):
        return self._xfer(addr, 0x80, 0)

    def write(self, addr, value):
        self._xfer(addr, 0x00, value)

    def _read_energy_reg(self, addr):
        """24-bit energy register confirmed by LAST_RWDATA24 (any two of the value and up to three
        LAST_RWDATA24 reads agree); -1 (and errors += 1) if it cannot be confirmed."""
        return A.read_confirmed(self, addr, LAST_RWDATA24)

    # --- setup -----------------------------------------------------------------------------------
    def begin(self):
        cal = self.cal
        self.write(UNLOCK, 0xAD)
        self.write(RESERVED_120, 0x30)
        lcyc = self.read(LCYCMODE)
        lcyc = (lcyc | RSTREAD) if self.rstread else (lcyc & ~RSTREAD & 0xFF)
        self.write(LCYCMODE, lcyc)
        self.write(ACCMODE, 0)  # signed accumulation for active, reactive and apparent
        for key, reg in (("pga_v", PGA_V), ("pga_ia", PGA_IA), ("pga_ib", PGA_IB)):
            if key in cal:
                self.write(reg, cal[key] & 0x07)
        for key, reg in _CAL_REGS:
            if key in cal:
                self.write(reg, cal[key] & 0xFFFFFF)
        ok = self.read(LCYCMODE) == lcyc
        if not self.rstread:
            # baseline: counts before begin() are unknown (the MCU may have restarted alone)
            last = self._last
            i = 0
            for ch in range(2):
                for reg in _EREG[ch]:
                    v = self._read_energy_reg(reg)
                    last[i] = v if v >= 0 else 0
                    i += 1
        self.ok = ok
        return ok

    # --- hot path --------------------------------------------------------------------------------
    def read_energy(self, out):
        ok = True
        for i in range(len(out)):
            out[i] = 0
        nch = 2 if self.channel_b == "circuit2" else 1
        last = self._last
        for ch in range(nch):
            regs = _EREG[ch]
            base = ch * EK
            for k in range(2):
                v = self._read_energy_reg(regs[k])
                if v < 0:
                    ok = False
                    continue
                if self.rstread:
                    d = v
                else:
                    j = ch * 2 + k
                    d = (v - last[j]) & 0xFFFFFF
                    last[j] = v
                if d & 0x800000:
                    d -= 0x1000000
                if k == 0:
                    if d >= 0:
                        out[base + E_IMP] = d
                    else:
                        out[base + E_EXP] = -d
                else:
                    if d >= 0:
                        out[base + E_QPOS] = d
                    else:
                        out[base + E_QNEG] = -d
        return ok

    def _s24(self, addr):
        v = self.read(addr)
        if v & 0x800000:
            v -= 0x1000000
        return v

    def read_instant(self, out):
        for i in range(len(out)):
            out[i] = 0
        vs, ps, qs, ss = self._vs, self._ps, self._qs, self._ss
        v = muldiv(self.read(VRMS), vs[0], vs[1])
        two = self.channel_b == "circuit2"
        for ch in range(2 if two else 1):
            b = ch * IK
            isc = self._is if ch == 0 else self._ibs
            out[b + I_V] = v
            out[b + I_I] = muldiv(self.read(IRMSA + ch), isc[0], isc[1])
            out[b + I_P] = smuldiv(self._s24(AWATT + ch), ps[0], ps[1])
            out[b + I_Q] = smuldiv(self._s24(AVAR + ch), qs[0], qs[1])
            out[b + I_S] = smuldiv(self._s24(AVA + ch), ss[0], ss[1])
            pf = self.read(PFA + ch)
            if pf & 0x8000:
                pf -= 0x10000
            out[b + I_PF] = smuldiv(pf, 1000, 32768)
        per = self.read(PERIOD)
        out[I_FREQ] = PERIOD_CLOCK_MHZ // (per + 1)
        if two:
            out[I_IN] = -1
        else:
            out[I_IN] = muldiv(self.read(IRMSB), self._ibs[0], self._ibs[1])
        return True
