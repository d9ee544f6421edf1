# OBIS codes, units and scalers of the metrology registers (IEC 62056-61 / DSMR naming).
#
# Units follow meter/registers.py: energy in Wh ('kWh', -3), reactive energy in varh ('kvarh', -3),
# power in W ('kW', -3), reactive power var ('kvar', -3), apparent power VA ('kVA', -3),
# voltage 0.1 V ('V', -1), current mA ('A', -3), frequency mHz ('Hz', -3), power factor 0.001 ('', -3).

WH = ("kWh", -3)
VARH = ("kvarh", -3)
W = ("kW", -3)
VAR = ("kvar", -3)
VA = ("kVA", -3)
DV = ("V", -1)
MA = ("A", -3)
MHZ = ("Hz", -3)
PF = ("", -3)

IMP_TOTAL = "1-0:1.8.0"
EXP_TOTAL = "1-0:2.8.0"
Q_TOTALS = ("1-0:5.8.0", "1-0:6.8.0", "1-0:7.8.0", "1-0:8.8.0")  # Q1..Q4 (all phases)
PHASE_C = (20, 40, 60)  # C field offset of L1, L2, L3


def imp_rate(r):
    return "1-0:1.8.%d" % r


def exp_rate(r):
    return "1-0:2.8.%d" % r


def imp_phase(ph):
    return "1-0:%d.8.0" % (PHASE_C[ph] + 1)


def exp_phase(ph):
    return "1-0:%d.8.0" % (PHASE_C[ph] + 2)


def inst(c):
    return "1-0:%d.7.0" % c


# instantaneous values per phase: (C offset from PHASE_C, unit)
PH_P_IMP = 1
PH_P_EXP = 2
PH_Q_POS = 3
PH_Q_NEG = 4
PH_S = 9
PH_I = 11
PH_V = 12
PH_PF = 13
# totals
P_IMP = inst(1)
P_EXP = inst(2)
Q_POS = inst(3)
Q_NEG = inst(4)
S_TOTAL = inst(9)
PF_TOTAL = inst(13)
FREQ = inst(14)
I_NEUTRAL = inst(91)


def obis_id(code):
    """Compact unique 16-bit id of an OBIS code 'A-B:C.D.E' with C < 256, D < 16, E < 16 (used to tag
    persisted values so that a firmware with a different register set restores what it knows)."""
    cde = code.split(":")[1].split(".")
    c, d, e = int(cde[0]), int(cde[1]), int(cde[2])
    if c > 255 or d > 15 or e > 15:
        raise ValueError(code)
    return (c << 8) | (d << 4) | e
