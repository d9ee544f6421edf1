# DSMR / e-MUCS / Smarty P1 object lists: which objects a telegram of each profile carries, in the
# order of the public specifications' tables (DSMR 5.0.2 table 6-3, DSMR 4.2.2, e-MUCS H 1.7,
# Luxembourg Smarty P1 1.1.3 table 3.1), with their formats (integer digits, decimals, unit).
PROFILES = ("dsmr5", "dsmr4", "emucs", "smarty")

# object kinds
K_STATIC = 0  # whole line fixed at configuration
K_TST = 1  # telegram time stamp
K_REG = 2  # numeric register
K_TARIFF = 3  # S4 current rate
K_CNT = 4  # F5(0,0) count (register or event log)
K_FLAG = 5  # I1 register (breaker / relay state)
K_DMONTH = 6  # emucs 1-0:1.6.0 (TST)(F5(3,3) kW)
K_LOG = 7  # power failure event log (variable)
K_TEXT = 8  # text message (variable)
K_DHIST = 9  # emucs 0-0:98.1.0 (variable)
K_MBUS = 10  # M-Bus channels (variable)
K_FW = 11  # e-MUCS firmware identification 1-0:0.2.0/8, 1-1:0.2.0/8 (P1Builder.set_firmware)
# field-only kinds
F_DTST = 20
F_DVAL = 21

M_MOD = 0  # cumulative: truncate, roll over
M_SAT = 1  # instantaneous: round half up, saturate
M_TRUNC_SAT = 2  # counts: truncate, saturate

# counts from the event log
C_PF_SHORT = 0
C_PF_LONG = 1
C_SAG = 2  # + phase - 1
C_SWELL = 5  # + phase - 1


# entry: (obis, kind, int_digits, decimals, unit, mode, phase, per_phase_value, extra)


def _e(o, alts=None, unit="kWh"):
    return (o, K_REG, 6, 3, unit, M_MOD, 0, 0, alts)


def _p(o, ph=0, unit="kW"):
    return (o, K_REG, 2, 3, unit, M_SAT, ph, 1 if ph else 0, None)


def _v(o, ph):
    return (o, K_REG, 3, 1, "V", M_SAT, ph, 1, None)


def _i(o, ph, idig=3, dec=0):
    return (o, K_REG, idig, dec, "A", M_SAT, ph, 1, None)


def _c(o, which, ph=0):
    return (o, K_CNT, 5, 0, None, M_TRUNC_SAT, ph, 0, which)


def _k(o, kind, extra=None):
    return (o, kind, 0, 0, None, 0, 0, 0, extra)


def _phase_vip(tab, idig_i=3, dec_i=0, voltage=True, reactive=False):
    if voltage:
        tab += [_v("1-0:32.7.0", 1), _v("1-0:52.7.0", 2), _v("1-0:72.7.0", 3)]
    tab += [_i("1-0:31.7.0", 1, idig_i, dec_i), _i("1-0:51.7.0", 2, idig_i, dec_i),
            _i("1-0:71.7.0", 3, idig_i, dec_i)]
    tab += [_p("1-0:21.7.0", 1), _p("1-0:41.7.0", 2), _p("1-0:61.7.0", 3),
            _p("1-0:22.7.0", 1), _p("1-0:42.7.0", 2), _p("1-0:62.7.0", 3)]
    if reactive:
        tab += [_p("1-0:23.7.0", 1, "kvar"), _p("1-0:43.7.0", 2, "kvar"), _p("1-0:63.7.0", 3, "kvar"),
                _p("1-0:24.7.0", 1, "kvar"), _p("1-0:44.7.0", 2, "kvar"), _p("1-0:64.7.0", 3, "kvar")]


def _sags(tab, a="1-0"):
    tab += [_c(a + ":32.32.0", C_SAG, 1), _c(a + ":52.32.0", C_SAG + 1, 2), _c(a + ":72.32.0", C_SAG + 2, 3),
            _c(a + ":32.36.0", C_SWELL, 1), _c(a + ":52.36.0", C_SWELL + 1, 2),
            _c(a + ":72.36.0", C_SWELL + 2, 3)]


def object_table(profile):
    if profile in ("dsmr5", "dsmr4"):
        tab = [_k("1-3:0.2.8", K_STATIC, "version"), _k("0-0:1.0.0", K_TST), _k("0-0:96.1.1", K_STATIC, "eid"),
               _e("1-0:1.8.1"), _e("1-0:1.8.2"), _e("1-0:2.8.1"), _e("1-0:2.8.2"),
               _k("0-0:96.14.0", K_TARIFF), _p("1-0:1.7.0"), _p("1-0:2.7.0"),
               _c("0-0:96.7.21", C_PF_SHORT), _c("0-0:96.7.9", C_PF_LONG), _k("1-0:99.97.0", K_LOG)]
        _sags(tab)
        if profile == "dsmr4":
            tab.append(_k("0-0:96.13.1", K_STATIC, "empty"))
        tab.append(_k("0-0:96.13.0", K_TEXT))
        _phase_vip(tab, voltage=(profile == "dsmr5"))
        tab.append(_k("mbus", K_MBUS))
        return tab
    if profile == "emucs":
        tab = [_k("0-0:96.1.4", K_STATIC, "version"), _k("0-0:96.1.1", K_STATIC, "eid"),
               _k("fw", K_FW), _k("0-0:1.0.0", K_TST),
               _e("1-0:1.8.1"), _e("1-0:1.8.2"), _e("1-0:2.8.1"), _e("1-0:2.8.2"),
               _k("0-0:96.14.0", K_TARIFF), _p("1-0:1.4.0"), _k("1-0:1.6.0", K_DMONTH),
               _k("0-0:98.1.0", K_DHIST), _p("1-0:1.7.0"), _p("1-0:2.7.0"),
               _p("1-0:21.7.0", 1), _p("1-0:41.7.0", 2), _p("1-0:61.7.0", 3),
               _p("1-0:22.7.0", 1), _p("1-0:42.7.0", 2), _p("1-0:62.7.0", 3),
               _v("1-0:32.7.0", 1), _v("1-0:52.7.0", 2), _v("1-0:72.7.0", 3),
               _i("1-0:31.7.0", 1, 3, 2), _i("1-0:51.7.0", 2, 3, 2), _i("1-0:71.7.0", 3, 3, 2),
               ("0-0:96.3.10", K_FLAG, 1, 0, None, M_TRUNC_SAT, 0, 0, None),
               ("0-0:17.0.0", K_REG, 3, 1, "kW", M_SAT, 0, 0, None),
               ("1-0:31.4.0", K_REG, 3, 0, "A", M_SAT, 0, 0, None),
               _k("0-0:96.13.0", K_TEXT), _k("mbus", K_MBUS)]
        return tab
    if profile == "smarty":
        tab = [_k("1-3:0.2.8", K_STATIC, "version"), _k("0-0:1.0.0", K_TST), _k("0-0:42.0.0", K_STATIC, "eid"),
               _e("1-0:1.8.0", ("1-0:1.8.1", "1-0:1.8.2", "1-0:1.8.3", "1-0:1.8.4")),
               _e("1-0:2.8.0", ("1-0:2.8.1", "1-0:2.8.2", "1-0:2.8.3", "1-0:2.8.4")),
               _e("1-0:3.8.0", ("1-0:5.8.0", "1-0:6.8.0"), "kvarh"),  # Q+ = QI + QII
               _e("1-0:4.8.0", ("1-0:7.8.0", "1-0:8.8.0"), "kvarh"),  # Q- = QIII + QIV
               _p("1-0:1.7.0"), _p("1-0:2.7.0"), _p("1-0:3.7.0", 0, "kvar"), _p("1-0:4.7.0", 0, "kvar"),
               ("0-0:17.0.0", K_REG, 3, 1, "kVA", M_SAT, 0, 0, None),
               _p("1-0:9.7.0", 0, "kVA"), _p("1-0:10.7.0", 0, "kVA"),
               _k("1-1:31.4.0", K_STATIC, "thresholds"),
               ("0-0:96.3.10", K_FLAG, 1, 0, None, M_TRUNC_SAT, 0, 0, None),
               ("0-1:96.3.10", K_FLAG, 1, 0, None, M_TRUNC_SAT, 0, 0, "aux"),
               ("0-2:96.3.10", K_FLAG, 1, 0, None, M_TRUNC_SAT, 0, 0, "aux"),
               _c("0-0:96.7.21", C_PF_SHORT)]
        _sags(tab)
        tab += [_k("0-0:96.13.0", K_TEXT), _k("0-0:96.13.2", K_STATIC, "empty"),
                _k("0-0:96.13.3", K_STATIC, "empty"), _k("0-0:96.13.4", K_STATIC, "empty"),
                _k("0-0:96.13.5", K_STATIC, "empty")]
        _phase_vip(tab, reactive=True)
        tab.append(_k("mbus", K_MBUS))
        return tab
    raise ValueError("P1: unknown profile %r (one of %s)" % (profile, ", ".join(PROFILES)))


DEFAULTS = {
    "dsmr5": {"version": "50", "period": 1},
    "dsmr4": {"version": "42", "period": 10},
    "emucs": {"version": "50217", "period": 1},
    "smarty": {"version": "42", "period": 10},
}
