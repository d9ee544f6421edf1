# Calibration of the unix_sim board: a simulated ATM90E32 (boards/unix_sim/afe_sim.py) read by the
# real driver (firmware/meter/drivers/afe/atm90e32.py). The procedure for a real board is in
# firmware/meter/drivers/afe/CALIBRATION.md; the gain values below are the chip's reset values (0x0000 = no
# correction for offsets, 0x8000 = unity where the register is a gain), which the simulator accepts.
#
# meter_constant 110 imp/kWh -> 11 counts per Wh (one energy LSB = 0.01 CF pulse). It is chosen so
# that the 16-bit read-to-clear energy registers do not wrap within the rig's longest virtual tick
# (900 s) at up to 23.8 kW per phase (65535 / 11 Wh per read); the PL constant 450e9 / 110 still
# fits the chip's 32-bit PLconst register (it must be >= 105 imp/kWh). 11 is not a power of ten, so
# the exact sub-Wh remainders get exercised.
CALIBRATION = {
    "chip": "atm90e32",
    "phases": 3,
    "meter_constant": 110,
    "line_freq": 50,
    "mmode0": 0x0185,
    "pga": 0x0000,
    "pstartth": 0x0000,
    "qstartth": 0x0000,
    "ugain": (0x8000, 0x8000, 0x8000),
    "igain": (0x8000, 0x8000, 0x8000),
    "uoffset": (0x0000, 0x0000, 0x0000),
    "ioffset": (0x0000, 0x0000, 0x0000),
    "pqgain": (0x0000, 0x0000, 0x0000),
    "phi": (0x0000, 0x0000, 0x0000),
}
