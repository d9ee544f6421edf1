# Metering front-end (AFE) drivers: the common interface and channel layout.
#
# One driver class per chip (atm90e32.py, ade7953.py, bl0942.py). A driver is constructed with the
# board's bus object (SPI per boards/README.md: transfer(tx, rx), select(on); UART: init, write,
# any, readinto) and the board's calibration dict, and offers:
#
#   name                      chip name
#   phases                    number of metered phases (1..3)
#   has_reactive              True if the chip gives reactive energy (R+ / R- channels below)
#   counts_per_wh, counts_per_wh_den       active energy constant: counts_per_wh / counts_per_wh_den
#   counts_per_varh, counts_per_varh_den   counts per Wh (varh) as an exact fraction (den usually 1)
#   max_delta                 most counts one channel can report per read without ambiguity
#   errors                    bus/checksum failures seen so far (int)
#   begin()                   configure the chip from the calibration (call once at boot; may
#                             allocate); returns True if the chip answered as expected
#   read_energy(out)          out: array of NCH ints; fills the counts accumulated since the previous
#                             read (all >= 0), handling the chip's read-with-reset or wrapping
#                             counters. Returns True, or False if some channel could not be read
#                             reliably (those counts are then 0 now and, where the chip allows it,
#                             reported at the next read). Allocation-free.
#   read_instant(out)         out: array of NINST ints (units below). Allocation-free.
#
# Counts -> Wh with an exact remainder is done once, in meter/metrology.py, not per driver.
#
# Energy channel layout (fixed): channel = phase * EK + kind, phase 0..2 = L1..L3
#   E_IMP   active energy import (A+, forward)
#   E_EXP   active energy export (A-, reverse)
#   E_QPOS  reactive energy positive (R+ = Q1 + Q2, inductive import / capacitive export)
#   E_QNEG  reactive energy negative (R- = Q3 + Q4)
# None of the supported chips separates the four quadrants; the metrology assigns R+ to Q1 or Q2 and
# R- to Q4 or Q3 by the active-energy direction of the same read (see metrology.py).
#
# Instantaneous layout: index = phase * IK + kind, then FREQ and IN
#   I_V   voltage, 0.1 V          I_I   current, mA
#   I_P   active power, W, signed (+ import)
#   I_Q   reactive power, var, signed      I_S   apparent power, VA
#   I_PF  power factor * 1000, signed (sign of P)
#   I_FREQ (global) line frequency, mHz    I_IN  neutral current, mA (-1 if not measured)
from array import array

E_IMP = 0
E_EXP = 1
E_QPOS = 2
E_QNEG = 3
EK = 4
NPH = 3
NCH = NPH * EK

I_V = 0
I_I = 1
I_P = 2
I_Q = 3
I_S = 4
I_PF = 5
IK = 6
I_FREQ = NPH * IK
I_IN = I_FREQ + 1
NINST = I_IN + 1


def energy_buf():
    return array("l", [0] * NCH)


def instant_buf():
    return array("l", [0] * NINST)


def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def fraction(num, den=1):
    """(num, den) reduced; accepts an int, a (num, den) pair or a decimal string like '3304.611'."""
    if isinstance(num, str):
        s = num.strip()
        if "." in s:
            ip, fp = s.split(".")
            den = 10 ** len(fp)
            num = int(ip or "0") * den + int(fp)
        else:
            num, den = int(s), 1
    elif isinstance(num, (tuple, list)):
        num, den = num[0], num[1]
    if den <= 0 or num <= 0:
        raise ValueError("calibration constant must be positive")
    g = gcd(num, den)
    return num // g, den // g


def signed(v, bits):
    """Two's complement value of an unsigned `bits`-wide register."""
    if v & (1 << (bits - 1)):
        return v - (1 << bits)
    return v


def make(chip, bus, calibration):
    """Construct the driver named by calibration['chip'] (or `chip`)."""
    chip = chip or calibration.get("chip")
    if chip == "atm90e32":
        from meter.drivers.afe.atm90e32 import ATM90E32
        return ATM90E32(bus, calibration)
    if chip == "ade7953":
        from meter.drivers.afe.ade7953 import ADE7953
        return ADE7953(bus, calibration)
    if chip == "bl0942":
        from meter.drivers.afe.bl0942 import BL0942
        return BL0942(bus, calibration)
    raise ValueError("unknown AFE chip %r" % chip)


def read_confirmed(drv, addr, check_addr):
    """Read register `addr` through drv.read() and confirm it with the chip's copy of its last
    answer (`check_addr`: ATM90E32 LastSPIData, ADE7953 LAST_RWDATA24, which reading does not
    change): accepted when any two of the value and up to three check reads agree; otherwise -1 and
    drv.errors += 1. Guards the read-to-clear energy registers against a corrupted SPI transfer."""
    v = drv.read(addr)
    a = drv.read(check_addr)
    if a == v:
        return v
    b = drv.read(check_addr)
    if b == a or b == v:
        return b
    c = drv.read(check_addr)
    if c == a or c == b or c == v:
        return c
    drv.errors += 1
    return -1
