# BL0942 (Belling) single-phase energy metering IC over UART: the cheap single-phase option.
#
# UART 4800 baud 8N1 (SEL pin low, default rate). Frames (datasheet "UART communication"):
#   read register:  host sends 0x58|A, reg          chip answers d0 d1 d2 (LSB first) + checksum
#   write register: host sends 0xA8|A, reg, d0 d1 d2, checksum
#   full packet:    host sends 0x58|A, 0xAA         chip answers 23 bytes:
#       0x55, I_RMS[3], V_RMS[3], I_FAST_RMS[3], WATT[3], CF_CNT[3], FREQ[3], STATUS[3], checksum
#   checksum = ~(0x58|A + reg + data bytes...) & 0xFF  (for the full packet: 0x58|A plus the 22
#   bytes after it, 0xAA not included). A = the chip's address pins A1:A2 (0..3).
# Registers used: MODE 0x19 (bit 2 CF_EN, bit 3 RMS_UPDATE_SEL 800 ms, bit 5 AC_FREQ_SEL 60 Hz,
# bit 6 CF_CNT_CLR_SEL, bit 7 CF_CNT_ADD_SEL absolute, bits 1:0 reserved = 1), USR_WRPROT 0x1D
# (0x55 unlocks), SOFT_RESET 0x1C (0x5A5A5A), GAIN_CR 0x1A. Single-register reads of the measurement
# registers (I_RMS 0x03, V_RMS 0x04, WATT 0x06, CF_CNT 0x07, FREQ 0x08) are documented in the
# datasheet but this driver only uses the full packet, which is atomic and checksummed.
#
# Energy: CF_CNT is a 24-bit counter of CF pulses that wraps; with CF_CNT_CLR_SEL = 0 it is not
# cleared by reads, so the driver takes deltas modulo 2**24 and a failed read loses nothing. The
# chip only gives one (absolute, CF_CNT_ADD_SEL = 1) energy counter: the delta of a read goes to
# import or export by the sign of WATT in the same packet. No reactive energy.
# counts_per_wh is board specific (shunt, divider): a fraction from calibration, see CALIBRATION.md.
#
# The driver is non-blocking: a 23-byte answer takes ~48 ms at 4800 baud, so read_energy() takes the
# answer to the request sent at the previous call and sends the next request. Counts are therefore
# attributed one tick late; no count is lost or double counted.
from meter.drivers.afe import E_IMP, E_EXP, IK, I_V, I_I, I_P, I_Q, I_S, I_PF, I_FREQ, I_IN, fraction
from meter.common.arith import muldiv, smuldiv

CMD_READ = 0x58
CMD_WRITE = 0xA8
FULL = 0xAA
HEAD = 0x55
REG_MODE = 0x19
REG_GAIN_CR = 0x1A
REG_SOFT_RESET = 0x1C
REG_USR_WRPROT = 0x1D
MODE_RESV = 0x03
MODE_CF_EN = 0x04
MODE_RMS_UPDATE_SEL = 0x08
MODE_AC_FREQ_SEL = 0x20
MODE_CF_CNT_CLR_SEL = 0x40
MODE_CF_CNT_ADD_SEL = 0x80
PKT_LEN = 23
MAX_DELTA = 0xFFFFFF


class BL0942:
    name = "bl0942"
    max_delta = MAX_DELTA
    has_reactive = False
    phases = 1

    def __init__(self, uart, cal):
        self.uart = uart
        self.cal = cal
        self.addr = cal.get("address", 0) & 3
        self.counts_per_wh, self.counts_per_wh_den = fraction(cal.get("counts_per_wh", "3.304611"))
        self.counts_per_varh, self.counts_per_varh_den = 1, 1
        self._vs = fraction(cal.get("v_scale", 1))
        self._is = fraction(cal.get("i_scale", 1))
        self._ps = fraction(cal.get("p_scale", 1))
        self.errors = 0
        self.misses = 0  # ticks without a complete answer
        self._cmd = bytearray((CMD_READ | self.addr, FULL))
        self._pkt = bytearray(PKT_LEN)
        self._junk = bytearray(32)
        self._wr = bytearray(6)
        self._rd = bytearray(4)
        self._last = -1  # previous CF_CNT (-1: no baseline yet)
        self._have = False  # _pkt holds a fresh valid packet not yet used by read_instant

    # --- framing ---------------------------------------------------------------------------------
    def _checksum(self, first, buf, n):
        s = first
        for i in range(n):
            s += buf[i]
        return (~s) & 0xFF

    def write_reg(self, reg, value):
        w = self._wr
        w[0] = CMD_WRITE | self.addr
        w[1] = reg
        w[2] = value & 0xFF
        w[3] = (value >> 8) & 0xFF
        w[4] = (value >> 16) & 0xFF
        w[5] = (~(w[0] + w[1] + w[2] + w[3] + w[4])) & 0xFF
        self.uart.write(w)

    def _drain(self):
        u = self.uart
        while u.any():
            u.readinto(self._junk)

    def read_reg(self, reg, tries=50):
        """Blocking-style single register read (setup only: polls any() up to `tries` times)."""
        self._drain()
        self._cmd[1] = reg
        self.uart.write(self._cmd)
        self._cmd[1] = FULL
        u = self.uart
        for _ in range(tries):
            if u.any() >= 4:
                break
        if u.any() < 4:
            return -1
        u.readinto(self._rd)
        r = self._rd
        if r[3] != ((~(CMD_READ + self.addr + reg + r[0] + r[1] + r[2])) & 0xFF):
            self.errors += 1
            return -1
        return r[0] | (r[1] << 8) | (r[2] << 16)

    def _request(self):
        self._drain()
        self.uart.write(self._cmd)

    def _collect(self):
        """Read the answer to the last request; True if a valid packet is in _pkt."""
        u = self.uart
        if u.any() < PKT_LEN:
            self.misses += 1
            return False
        n = u.readinto(self._pkt)
        p = self._pkt
        if n != PKT_LEN or p[0] != HEAD or p[22] != self._checksum(CMD_READ | self.addr, p, 22):
            self.errors += 1
            return False
        return True

    # --- setup -----------------------------------------------------------------------------------
    def begin(self):
        cal = self.cal
        self.uart.init(cal.get("baudrate", 4800), bits=8, parity=None, stop=1)
        mode = MODE_RESV | MODE_CF_EN | MODE_CF_CNT_ADD_SEL | MODE_RMS_UPDATE_SEL
        if cal.get("line_freq", 50) == 60:
            mode |= MODE_AC_FREQ_SEL
        self.write_reg(REG_USR_WRPROT, 0x55)
        self.write_reg(REG_MODE, mode)
        if "gain_cr" in cal:
            self.write_reg(REG_GAIN_CR, cal["gain_cr"] & 3)
        self.write_reg(REG_USR_WRPROT, 0x00)
        ok = self.read_reg(REG_MODE) == mode
        # CF_CNT baseline: the counter is not cleared at an MCU reset, so counts before begin() are
        # unknown; the first packet (answer to this request) only sets the baseline
        self._request()
        self._last = -1
        self.ok = ok
        return ok

    # --- hot path --------------------------------------------------------------------------------
    def read_energy(self, out):
        for i in range(len(out)):
            out[i] = 0
        good = self._collect()
        self._request()
        self._have = good
        if not good:
            return False
        p = self._pkt
        cnt = p[13] | (p[14] << 8) | (p[15] << 16)
        last = self._last
        self._last = cnt
        if last < 0:
            return True  # first packet: baseline only
        d = (cnt - last) & 0xFFFFFF
        watt = p[10] | (p[11] << 8) | (p[12] << 16)
        if watt & 0x800000:
            out[E_EXP] = d
        else:
            out[E_IMP] = d
        return True

    def read_instant(self, out):
        if not self._have:
            return False
        p = self._pkt
        irms = p[1] | (p[2] << 8) | (p[3] << 16)
        vrms = p[4] | (p[5] << 8) | (p[6] << 16)
        watt = p[10] | (p[11] << 8) | (p[12] << 16)
        if watt & 0x800000:
            watt -= 0x1000000
        per = p[16] | (p[17] << 8)  # FREQ: line period in us
        vs, i_s, ps = self._vs, self._is, self._ps
        v = muldiv(vrms, vs[0], vs[1])
        i = muldiv(irms, i_s[0], i_s[1])
        pw = smuldiv(watt, ps[0], ps[1])
        s = muldiv(v * i, 1, 10000)  # 0.1 V * mA -> VA
        out[I_V] = v
        out[I_I] = i
        out[I_P] = pw
        out[I_Q] = 0
        out[I_S] = s
        if s > 0:
            pf = smuldiv(pw, 1000, s)
            out[I_PF] = 1000 if pf > 1000 else (-1000 if pf < -1000 else pf)
        else:
            out[I_PF] = 1000
        out[I_FREQ] = 1000000000 // per if per else 0
        out[I_IN] = -1
        for k in range(IK, len(out) - 2):
            out[k] = 0
        return True
