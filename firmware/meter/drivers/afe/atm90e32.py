# ATM90E32AS (Microchip/Atmel M90E32AS) poly-phase energy metering IC over SPI.
#
# SPI framing (datasheet "SPI interface"): CS low, 16-bit address MSB first with bit 15 = 1 for a
# read (0 for a write; bits 9..0 are the register address), then 16 data bits MSB first. Mode 3,
# <= 160 kHz on some revisions (the board sets the bus up).
#
# Energy registers 0x80..0x93 are 16-bit, unsigned and read-to-clear: every read returns the counts
# accumulated since the previous read of that register. A register that reaches 0xFFFF between two
# reads wraps (modulo 2**16); with read-to-clear registers no driver can recover a wrap after the
# fact, so the read cadence must keep counts per read below MAX_DELTA:
#   max read interval [s] = 65535 * 3600 / (counts_per_wh * P_phase_max [W])
# e.g. 1 s cadence is safe up to 23 MW per phase at MC = 3200 imp/kWh; the unix_sim calibration
# (MC = 110) allows 900 s ticks at 23 kW per phase.
# One energy LSB is 0.01 CF pulse, so counts per Wh = MC * 100 / 1000 = MC / 10 (MC = meter constant
# in imp/kWh, set through PL_constant = 450 000 000 000 / MC in PLconstH/PLconstL).
#
# Every energy read is checked against LastSPIData (0x78), which holds the data of the last SPI
# transfer as the chip sent it: if the two disagree (noise on MISO), LastSPIData is read up to twice
# more and the first value seen twice is taken; else the read counts as an error (those counts are
# lost: the register was cleared by the read).
#
# Units of the measurement registers (datasheet tables 10-12): Urms 0.01 V, Irms 0.001 A, Pmean/Qmean/
# Smean per phase 1 W/var/VA (two's complement 16-bit, total registers 4 W), the *LSB registers add
# 8 fraction bits (1/256) in their high byte, PFmean 0.001, Freq 0.01 Hz, IrmsN (calculated) 0.001 A.
# PFmean is read as two's complement like the vendor's reference code does; the datasheet wording
# ("signed, MSB as the sign bit") could also mean sign-magnitude: check with a capacitive load.
#
# Register addresses used here were checked against two independent public register maps; the
# energy LSB (0.01 CF) and the PL_constant formula are as in the datasheet's energy register chapter
# (5.5.1) and the application note; verify on first hardware bring-up with CALIBRATION.md step 4.
from meter.drivers import afe as A
from meter.drivers.afe import EK, IK, I_V, I_I, I_P, I_Q, I_S, I_PF, I_FREQ, I_IN, fraction

METEREN = 0x00
SOFTRESET = 0x70
LASTSPIDATA = 0x78
CFGREGACCEN = 0x7F
PLCONSTH = 0x31
PLCONSTL = 0x32
MMODE0 = 0x33
MMODE1 = 0x34
PSTARTTH = 0x35
QSTARTTH = 0x36
SSTARTTH = 0x37
PPHASETH = 0x38
QPHASETH = 0x39
SPHASETH = 0x3A
POFFSET = (0x41, 0x43, 0x45)
QOFFSET = (0x42, 0x44, 0x46)
PQGAIN = (0x47, 0x49, 0x4B)
PHI = (0x48, 0x4A, 0x4C)
UGAIN = (0x61, 0x65, 0x69)
IGAIN = (0x62, 0x66, 0x6A)
UOFFSET = (0x63, 0x67, 0x6B)
IOFFSET = (0x64, 0x68, 0x6C)

APENERGY = 0x81  # + phase: forward active A/B/C (0x80 = total)
ANENERGY = 0x85  # reverse active
RPENERGY = 0x89  # forward reactive
RNENERGY = 0x8D  # reverse reactive
PMEAN = 0xB1
QMEAN = 0xB5
SMEAN = 0xB9
PFMEAN = 0xBD
PMEANLSB = 0xC1
QMEANLSB = 0xC5
IRMSN = 0xD8
URMS = 0xD9
IRMS = 0xDD
FREQ = 0xF8

MAX_DELTA = 0xFFFF
PL_NUM = 450000000000

# energy kind -> register base, in channel order E_IMP, E_EXP, E_QPOS, E_QNEG (meter/drivers/afe/__init__)
_EBASE = (APENERGY, ANENERGY, RPENERGY, RNENERGY)


class ATM90E32:
    name = "atm90e32"
    max_delta = MAX_DELTA
    has_reactive = True

    def __init__(self, spi, cal):
        self.spi = spi
        self.cal = cal
        self.phases = cal.get("phases", 3)
        mc = fraction(cal.get("meter_constant", 3200))  # imp/kWh, may be a fraction
        # counts/Wh = MC * 100 / 1000
        n, d = fraction(mc[0] * 100, mc[1] * 1000)
        if "counts_per_wh" in cal and fraction(cal["counts_per_wh"]) != (n, d):
            raise ValueError("counts_per_wh must be meter_constant / 10 on the ATM90E32")
        self.meter_constant = mc
        self.counts_per_wh, self.counts_per_wh_den = n, d
        self.counts_per_varh, self.counts_per_varh_den = n, d
        self.errors = 0
        self._tx = bytearray(4)
        self._rx = bytearray(4)

    # --- register access -------------------------------------------------------------------------
    def read(self, addr):
        tx = self._tx
        rx = self._rx
        tx[0] = 0x80 | ((addr >> 8) & 0x03)
        tx[1] = addr & 0xFF
        tx[2] = 0
        tx[3] = 0
        spi = self.spi
        spi.select(1)
        spi.transfer(tx, rx)
        spi.select(0)
        return (rx[2] << 8) | rx[3]

    def write(self, addr, value):
        tx = self._tx
        tx[0] = (addr >> 8) & 0x03
        tx[1] = addr & 0xFF
        tx[2] = (value >> 8) & 0xFF
        tx[3] = value & 0xFF
        spi = self.spi
        spi.select(1)
        spi.transfer(tx, self._rx)
        spi.select(0)

    def read_checked(self, addr):
        """Read a register and confirm it with LastSPIData (the chip's copy of what it sent, not
        changed by reading it): accepted when any two of the value and up to three LastSPIData
        reads agree; -1 (and errors += 1) if none do."""
        return A.read_confirmed(self, addr, LASTSPIDATA)

    # --- setup -----------------------------------------------------------------------------------
    def begin(self):
        cal = self.cal
        if cal.get("soft_reset"):
            self.write(SOFTRESET, 0x789A)  # clears the energy registers: only on a cold start
        self.write(CFGREGACCEN, 0x55AA)
        self.write(METEREN, 0x0001)
        ok = self.read(LASTSPIDATA) == 0x0001
        pl = PL_NUM * self.meter_constant[1] // self.meter_constant[0]
        self.write(PLCONSTH, (pl >> 16) & 0xFFFF)
        self.write(PLCONSTL, pl & 0xFFFF)
        # metering mode: 3P4W with the value common application examples use (0x0185); verify the
        # sum-mode bits against the datasheet's MMode0 table for your wiring
        mmode0 = cal.get("mmode0", 0x0185)
        if cal.get("line_freq", 50) == 60:
            mmode0 |= 1 << 12
        self.write(MMODE0, mmode0)
        self.write(MMODE1, cal.get("pga", 0x0000))
        for reg, key in ((PSTARTTH, "pstartth"), (QSTARTTH, "qstartth"), (SSTARTTH, "sstartth"),
                         (PPHASETH, "pphaseth"), (QPHASETH, "qphaseth"), (SPHASETH, "sphaseth")):
            if key in cal:
                self.write(reg, cal[key])
        for key, regs in (("ugain", UGAIN), ("igain", IGAIN), ("uoffset", UOFFSET), ("ioffset", IOFFSET),
                          ("pqgain", PQGAIN), ("phi", PHI), ("poffset", POFFSET), ("qoffset", QOFFSET)):
            vals = cal.get(key)
            if vals is not None:
                for ph in range(self.phases):
                    self.write(regs[ph], vals[ph] & 0xFFFF)
        self.write(CFGREGACCEN, 0x0000)
        ok = ok and self.read(METEREN) == 0x0001
        self.ok = ok
        return ok

    # --- hot path --------------------------------------------------------------------------------
    def read_energy(self, out):
        ok = True
        nph = self.phases
        for ph in range(3):
            for kind in range(EK):
                ch = ph * EK + kind
                if ph >= nph:
                    out[ch] = 0
                    continue
                v = self.read_checked(_EBASE[kind] + ph)
                if v < 0:
                    ok = False
                    v = 0
                out[ch] = v
        return ok

    def _power(self, hi_addr, lo_addr):
        # signed 16-bit integer part + 8 fraction bits from the LSB register, rounded to whole units
        hi = self.read(hi_addr)
        lo = self.read(lo_addr) >> 8
        if hi & 0x8000:
            hi -= 0x10000
        return (hi * 256 + lo + 128) >> 8

    def read_instant(self, out):
        for ph in range(3):
            b = ph * IK
            if ph >= self.phases:
                for k in range(IK):
                    out[b + k] = 0
                continue
            out[b + I_V] = self.read(URMS + ph) // 10  # 0.01 V -> 0.1 V
            out[b + I_I] = self.read(IRMS + ph)
            out[b + I_P] = self._power(PMEAN + ph, PMEANLSB + ph)
            out[b + I_Q] = self._power(QMEAN + ph, QMEANLSB + ph)
            out[b + I_S] = self.read(SMEAN + ph)
            pf = self.read(PFMEAN + ph)
            if pf & 0x8000:
                pf -= 0x10000
            out[b + I_PF] = pf
        out[I_FREQ] = self.read(FREQ) * 10  # 0.01 Hz -> mHz
        out[I_IN] = self.read(IRMSN)
        return True
