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


# The codes are literals, not formatted: a frozen image keeps literal strings in ROM, while a code
# built with '%' would be a heap string for the life of the meter (about 30 bytes each, 60 codes).
IMP_RATES = ("1-0:1.8.1", "1-0:1.8.2", "1-0:1.8.3", "1-0:1.8.4", "1-0:1.8.5", "1-0:1.8.6",
             "1-0:1.8.7", "1-0:1.8.8")
EXP_RATES = ("1-0:2.8.1", "1-0:2.8.2", "1-0:2.8.3", "1-0:2.8.4", "1-0:2.8.5", "1-0:2.8.6",
             "1-0:2.8.7", "1-0:2.8.8")
IMP_PHASES = ("1-0:21.8.0", "1-0:41.8.0", "1-0:61.8.0")
EXP_PHASES = ("1-0:22.8.0", "1-0:42.8.0", "1-0:62.8.0")


def imp_rate(r):
    return IMP_RATES[r - 1]


def exp_rate(r):
    return EXP_RATES[r - 1]


def imp_phase(ph):
    return IMP_PHASES[ph]


def exp_phase(ph):
    return EXP_PHASES[ph]


# instantaneous values per phase: C offset from PHASE_C -> the codes of L1, L2, L3
PH_P_IMP = 1
PH_P_EXP = 2
PH_Q_POS = 3
PH_Q_NEG = 4
PH_S = 9
PH_I = 11
PH_V = 12
PH_PF = 13
_PH_INST = (
    (PH_P_IMP, ("1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0")),
    (PH_P_EXP, ("1-0:22.7.0", "1-0:42.7.0", "1-0:62.7.0")),
    (PH_Q_POS, ("1-0:23.7.0", "1-0:43.7.0", "1-0:63.7.0")),
    (PH_Q_NEG, ("1-0:24.7.0", "1-0:44.7.0", "1-0:64.7.0")),
    (PH_S, ("1-0:29.7.0", "1-0:49.7.0", "1-0:69.7.0")),
    (PH_I, ("1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0")),
    (PH_V, ("1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0")),
    (PH_PF, ("1-0:33.7.0", "1-0:53.7.0", "1-0:73.7.0")),
)


def phase_inst(off, ph):
    """Code of the instantaneous value `off` (PH_*) of phase ph (0 = L1)."""
    for o, codes in _PH_INST:
        if o == off:
            return codes[ph]
    raise ValueError("no instantaneous value %d" % off)


# totals
P_IMP = "1-0:1.7.0"
P_EXP = "1-0:2.7.0"
Q_POS = "1-0:3.7.0"
Q_NEG = "1-0:4.7.0"
S_TOTAL = "1-0:9.7.0"
PF_TOTAL = "1-0:13.7.0"
FREQ = "1-0:14.7.0"
I_NEUTRAL = "1-0:91.7.0"


def obis_id(code):
    """Compact unique 16-bit id of an OBIS code 'A-B:C.D.E' with C < 256, D < 16, E < 16 (used to tag
    persisted values so that a firmware with a different register set restores what it knows)."""
    cde = code.split(":")[1].split(".")
    c, d, e = int(cde[0]), int(cde[1]), int(cde[2])
    if c > 255 or d > 15 or e > 15:
        raise ValueError(code)
    return (c << 8) | (d << 4) | e
