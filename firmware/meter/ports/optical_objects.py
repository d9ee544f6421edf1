# The objects the optical port shows besides the register table: identity and clock, mapped onto
# the meter's services for the IEC 62056-21 registry (reads are getters; writes are applied by the
# port for the session's WRITE actions).
#
#   register_identity(registry, serial, equipment_id)   0-0:C.1.0, 0-0:96.1.1: public, read-only
#   register_clock(registry, meter_clock, level=1)       0-0:1.0.0, 0.9.1, 0.9.2: public, written at
#        `level` through MeterClock.set(t, 'optical') (CLOCK_ADJUSTED a = old, b = new, and the
#        adjust hooks: metrology, tariff, profile, billing), in the clock's own time zone.
from meter.common.text import sanitize
from meter.cores.iec62056_21 import clock_text as ct
from meter.cores.iec62056_21.readout import fmt_value


def register_identity(registry, serial, equipment_id):
    s = sanitize(str(serial))
    e = sanitize(str(equipment_id))
    registry.register_object("0-0:C.1.0", lambda: s, None, level=2, read_level=0)
    registry.register_object("0-0:96.1.1", lambda: e, None, level=2, read_level=0)


def register_clock(registry, clock, level=1):
    tz = clock.tz

    def w_dt(text):
        clock.set(ct.parse_datetime(text, tz), "optical")

    def w_time(text):
        clock.set(ct.parse_time_of_day(text, tz, clock.now()), "optical")

    def w_date(text):
        clock.set(ct.parse_date(text, tz, clock.now()), "optical")

    registry.register_object("0-0:1.0.0", lambda: ct.datetime_text(tz, clock.now()), w_dt, level, 0)
    registry.register_object("0.9.1", lambda: ct.time_text(tz, clock.now()), w_time, level, 0)
    registry.register_object("0.9.2", lambda: ct.date_text(tz, clock.now()), w_date, level, 0)


def _int(text, lo, hi):
    if not text or not (text.isdigit() or (text[0] == "-" and text[1:].isdigit())):
        raise ValueError("FORMAT")
    v = int(text)
    if not lo <= v <= hi:
        raise ValueError("RANGE")
    return v


def _refused(reason):
    if reason is not None:
        raise ValueError(reason.upper().replace(" ", "_")[:32])


def register_supply(registry, supply, level=2):
    """Supply control (disconnect control IC 70, limiter IC 71), all writes at `level`:
      0-0:96.3.10  R output_state (1 connected, 0 disconnected; public); W 0 = remote disconnect,
                   1 = remote reconnect (refused as the control mode says: ERROR:<reason>)
      C.91.1       R/W control_mode 0..6        C.91.2  R control_state (0, 1, 2 ready)
      0-0:17.0.0   R the active threshold (public, kW); W the normal threshold in W (0 = off)
      C.91.3       R/W limiter 'normal_w,emergency_w,over_s,under_s'
      C.91.4       R/W emergency profile 'id,activation_t,duration_s,group_id[;group_id...]'"""
    lim = supply.limiter

    def w_state(text):
        _refused(supply.remote(_int(text, 0, 1) == 1))

    def w_mode(text):
        supply.set_mode(_int(text, 0, 6))

    def w_thr(text):
        lim.set_thresholds(_int(text, 0, 10000000))
        supply.changed()

    def r_lim():
        return "%d,%d,%d,%d" % (lim.threshold_normal, lim.threshold_emergency,
                                lim.min_over_threshold_duration, lim.min_under_threshold_duration)

    def w_lim(text):
        p = text.split(",")
        if len(p) != 4:
            raise ValueError("FORMAT")
        n, e, o, u = (_int(x, 0, 10000000) for x in p)
        if o > 86400 or u > 86400:
            raise ValueError("RANGE")
        lim.set_thresholds(n, e)
        lim.set_durations(o, u)
        supply.changed()

    def r_em():
        pid, t0, dur = lim.emergency_profile
        return "%d,%d,%d,%s" % (pid, t0, dur, ";".join(str(g) for g in lim.emergency_group_ids))

    def w_em(text):
        p = text.split(",")
        if len(p) != 4:
            raise ValueError("FORMAT")
        groups = [_int(g, 0, 0xFFFF) for g in p[3].split(";") if g] if p[3] else []
        if len(groups) > 8:
            raise ValueError("RANGE")
        lim.set_emergency(_int(p[0], 0, 0xFFFF), _int(p[1], 0, 0x3FFFFFFF), _int(p[2], 0, 0x3FFFFFFF),
                          groups)
        supply.changed()

    dc = supply.dc
    registry.register_object("0-0:96.3.10", lambda: "1" if dc.output_state else "0", w_state, level, 0)
    registry.register_object("C.91.1", lambda: str(dc.control_mode), w_mode, level)
    registry.register_object("C.91.2", lambda: str(dc.control_state), None, level)
    registry.register_object("C.91.3", r_lim, w_lim, level)
    registry.register_object("C.91.4", r_em, w_em, level)
    # read as the register it mirrors (the readout's kW text), public like the register
    registry.register_object("0-0:17.0.0", lambda: registry.fallback("0-0:17.0.0"), w_thr, level, 0)


def register_credit(registry, credit, level=2):
    """Prepayment management, writes at `level`:
      C.91.0  R/W payment mode 1 (credit, post-paid) / 2 (prepayment)
      C.91.5  W   a management top-up (units of the account); durable before the ACK
      C.91.6  W   add debt (units)               C.91.7  R the newest transaction
                  't,tx,amount,source,ref,credited'
    The credit registers (0-0:19.0.0, 0-0:19.10.0, 0-0:19.10.1, 0-0:19.20.0, 0-0:19.20.2) are read
    through the register fallback and appear in the readout."""
    from meter.services.credit import SOURCE_MANAGEMENT
    acc = credit.acc

    def w_mode(text):
        credit.set_payment_mode(_int(text, 1, 2))

    def w_topup(text):
        _refused(credit.add_credit(_int(text, 1, 0x3FFFFFFF), SOURCE_MANAGEMENT, 0))

    def w_debt(text):
        credit.add_debt(_int(text, 1, 0x3FFFFFFF))

    def r_last():
        e = credit.log(0)
        return "NONE" if e is None else ",".join(str(x) for x in e)

    registry.register_object("C.91.0", lambda: str(acc.payment_mode), w_mode, level)
    # read: the available credit, so the write's log line shows it before and after the top-up
    registry.register_object("C.91.5", lambda: str(acc.available()), w_topup, level)
    registry.register_object("C.91.6", None, w_debt, level)
    registry.register_object("C.91.7", r_last, None, level)


def register_tokens(registry, tokens, level=2):
    """STS token entry (services/tokens.py), at `level`:
      C.91.8  W   a 20-digit token, entered as on the keypad; ACK only for Accept/1stKCT/2ndKCT,
                  else ERROR(<result name>) (Used, Old, CRC, ...). R the newest result 'code,name'
    The decoder key is not an object: it cannot be read or written over this port."""

    def w_token(text):
        tokens.enter(text)  # the decoder judges the text (Format, and the bad-token count)
        if tokens.last[0] > 2:
            raise ValueError(tokens.last[1].upper())

    def r_last():
        return "NONE" if tokens.last is None else "%d,%s" % tokens.last

    registry.register_object("C.91.8", r_last, w_token, level)


def register_submeters(registry, source):
    """0-n:24.2.1 (n = M-Bus channel 1..4): the sub-meter readings of a services/submeters.py
    source (the OMS collector), public and read-only; a channel without a reading has no line."""
    def reader(ch):
        def read():
            for c in source.channels():
                if c[0] == ch:
                    return fmt_value(c[4], c[5], c[6])
            return None
        return read
    for ch in range(1, 5):
        registry.register_object("0-%d:24.2.1" % ch, reader(ch), None, level=2, read_level=0)
