# The meter's COSEM object model (IEC 62056-6-2, Blue Book 4): the DLMS cores' registry built on
# the REAL services - no second copy of state. Every getter reads the service, every setter and
# method calls the service's own entry point (the same one the optical port uses), so a DLMS
# write follows the same rules, checks and event logging.
#
#   build(registers, clock, supply, keys, identity, clients_title=b"") -> objects.Registry
#
# Objects (client SAPs: PUBLIC 16 read-only, MGMT 1 management):
#   0-0:1.0.0.255   Clock (8): time in the clock's own zone (deviation, DST status bit); set
#                   through MeterClock.set(t, "dlms") (CLOCK_ADJUSTED, the adjust hooks), MGMT
#                   writes, methods none (adjust_to_* are not offered: set covers them)
#   0-0:42.0.0.255  logical device name (1), 0-0:96.1.0/1 serial / equipment id (1): public
#   <register table> every numeric OBIS code of common/registers.py as a Register (3): value and
#                   scaler_unit (kWh/kW/kvarh/kvar scaled to the SI unit: Wh 30, W 27, varh 32,
#                   var 29; V 35, A 33, Hz 44), per rate and phase as the table defines them
#   0-0:96.3.10.255 Disconnect control (70): output_state, control_state, control_mode (MGMT
#                   writes through SupplyControl.set_mode); methods remote_disconnect /
#                   remote_reconnect through SupplyControl.remote (a refusal is
#                   temporary-failure; the relay really switches)
#   0-0:17.0.0.255  Limiter (71): 2 monitored_value (W), 3 threshold_active, 4/5 threshold_normal /
#                   emergency (W, MGMT writes), 6/7 min over/under threshold durations (s, MGMT
#                   writes): through the limiter's own setters (range-checked) + SupplyControl.changed
#   1-0:99.1.0.255  Load profile (7) on services/load_profile.py (entries read from its ring, oldest
#                   first): clock, AMR status, A+, A-, R+ (Q1+Q2), R- (Q3+Q4); selective access by
#                   range (on the clock column, local time) and by entry
#   0-0:99.98.0.255 Event log (7) on the meter's event ring (common/events.py, oldest first): clock,
#                   event code (0-0:96.11.0), a, b; read by entry (by range too, but the ring is in
#                   arrival order: after a clock set back a range may miss entries)
#   0-0:13.0.0.255  Activity calendar (20) and 0-0:11.0.0.255 special days table (11) on the tariff
#                   calendar and TariffService (services/cosem_calendar.py): passive written by MGMT
#   0-0:19.x        Account (111), credits (112), charges (113) on the prepayment account, read-only,
#                   only with prepayment configured (services/cosem_credit.py)
#   0-0:41.0.0.255  SAP assignment (17)
#   0-0:43.0.0.255  Security setup (64) with global_key_transfer (keys from board.keys only)
#   0-0:44.0.0.255  Image transfer (18) on the firmware update service, MGMT authenticated only,
#                   and the firmware identification 0-0:0.2.0/8, 1-0:0.2.0/8 (public)
#                   (services/cosem_image.py): added by add_update() on a meter with updates
from meter.cores.dlms import axdr
from meter.cores.dlms import objects as O
from meter.cores.dlms import cosemtime
from meter.cores.dlms.secsetup import security_setup
from meter.common import timeutil

PUBLIC = 16
MGMT = 1

R_PUB = {PUBLIC: O.READ, MGMT: O.READ}
R_MGMT_RW = {PUBLIC: O.READ, MGMT: O.READ_WRITE}
M_MGMT = {MGMT: O.M_ACCESS}

# unit text -> (Blue Book unit enum, scaler shift to that unit)
_UNITS = {"kWh": (30, 3), "Wh": (30, 0), "kW": (27, 3), "W": (27, 0), "kvarh": (32, 3),
          "kvar": (29, 3), "V": (35, 0), "A": (33, 0), "Hz": (44, 0), "": (255, 0)}


def _ln(code):
    """'1-0:1.8.1' -> 6 bytes (F = 255); None for a code that is not all-numeric (C.91.1)."""
    try:
        a, rest = code.split("-")
        b, rest = rest.split(":")
        p = rest.split(".")
        if len(p) != 3:
            return None
        v = [int(a), int(b), int(p[0]), int(p[1]), int(p[2]), 255]
    except ValueError:
        return None
    for x in v:
        if not 0 <= x <= 255:
            return None
    return bytes(v)


def datetime_of(clock, t):
    """COSEM date-time of UTC t in the meter's zone (deviation = -offset, Blue Book 4.1.6.1)."""
    y, mo, d, h, mi, s, wd, dst = clock.local(t)
    st = (cosemtime.STATUS_DST if dst else 0) | (0 if clock.valid else cosemtime.STATUS_INVALID)
    return cosemtime.datetime(y, mo, d, h, mi, s, wd, 0, -(clock.offset(t) // 60), st)


def utc_of(clock, b):
    """UTC seconds of a COSEM date-time; deviation unspecified = the meter's own zone.
    DataAccessError(TYPE_UNMATCHED) for a malformed or wildcard date-time."""
    try:
        f = cosemtime.unpack(b)
    except ValueError:
        raise O.DataAccessError(O.TYPE_UNMATCHED)
    if not cosemtime.valid(f):
        raise O.DataAccessError(O.TYPE_UNMATCHED)
    if f[8] == cosemtime.DEVIATION_UNSPECIFIED:
        return clock.local_to_utc(f[0], f[1], f[2], f[4], f[5], f[6])
    if not -840 <= f[8] <= 840:
        raise O.DataAccessError(O.TYPE_UNMATCHED)
    return timeutil.to_secs(f[0], f[1], f[2], f[4], f[5], f[6]) + f[8] * 60


def add_clock(reg, clock):
    def get():
        return (axdr.OCTET_STRING, datetime_of(clock, clock.now()))

    def put(v):
        if v[0] != axdr.OCTET_STRING:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        try:
            clock.set(utc_of(clock, v[1]), "dlms")
        except ValueError:  # MeterClock's own range check
            raise O.DataAccessError(O.TYPE_UNMATCHED)

    tz = clock.tz
    reg.add(O.clock(O.obis(0, 0, 1, 0, 0), get, put, R_MGMT_RW, time_zone=-(tz.std // 60),
                    get_status=lambda: (axdr.UNSIGNED, datetime_of(clock, clock.now())[11]),
                    dst_deviation=tz.shift // 60 if tz.has_dst else 0, dst_enabled=tz.has_dst))


def add_limiter(reg, supply):
    lim = supply.limiter  # in W (the 0-0:17.0.0 register of the optical port shows kW)

    def getter(name):
        return lambda: (axdr.DOUBLE_LONG_UNSIGNED, getattr(lim, name))

    def setter(apply):
        def put(v):
            if v[0] not in (axdr.DOUBLE_LONG_UNSIGNED, axdr.LONG_UNSIGNED, axdr.UNSIGNED):
                raise O.DataAccessError(O.TYPE_UNMATCHED)
            try:
                apply(v[1])
            except ValueError:  # out of the limiter's range: nothing changed
                raise O.DataAccessError(O.TYPE_UNMATCHED)
            supply.changed()
        return put

    reg.add(O.CosemObject(71, 0, O.obis(0, 0, 17, 0, 0), {
        2: O.Attr(lambda: (axdr.DOUBLE_LONG, lim.monitored_value), None, R_PUB),
        3: O.Attr(lambda: (axdr.DOUBLE_LONG_UNSIGNED, lim.threshold_active(supply.clock.now())), None, R_PUB),
        4: O.Attr(getter("threshold_normal"), setter(lambda v: lim.set_thresholds(v)), R_MGMT_RW),
        5: O.Attr(getter("threshold_emergency"),
                  setter(lambda v: lim.set_thresholds(lim.threshold_normal, v)), R_MGMT_RW),
        6: O.Attr(getter("min_over_threshold_duration"),
                  setter(lambda v: lim.set_durations(v, lim.min_under_threshold_duration)), R_MGMT_RW),
        7: O.Attr(getter("min_under_threshold_duration"),
                  setter(lambda v: lim.set_durations(lim.min_over_threshold_duration, v)), R_MGMT_RW),
    }))


def add_registers(reg, registers):
    """One Register (3) per numeric OBIS code of the table, read live by slot: an ObjectTable
    (names + slots; each Register object is made on access) - one object per code does not fit
    a 96 KB heap."""
    if len(registers.codes) > 256:  # slots are kept in a bytearray
        raise ValueError("register table")
    lns = bytearray()
    slots = bytearray()
    seen = set()  # names taken by the table (two codes may spell one name)
    for s in range(len(registers.codes)):
        ln = _ln(registers.codes[s])
        if ln is None or ln in seen or reg.find(ln) is not None:
            continue
        seen.add(ln)
        lns += ln
        slots.append(s)
    seen = None
    lns = bytes(lns)
    vals = registers.values

    def make(i):
        s = slots[i]
        unit, shift = _UNITS.get(registers.units[s], (255, 0))

        def get():
            v = vals[s]
            return (axdr.DOUBLE_LONG if v < 0 else axdr.DOUBLE_LONG_UNSIGNED, v)

        return O.register(lns[i * 6:i * 6 + 6], get, registers.scalers[s] + shift, unit, R_PUB)

    reg.add_table(O.ObjectTable(lns, make, R_PUB))


def add_supply(reg, supply):
    """Disconnect control (70 v0): 2 output_state, 3 control_state, 4 control_mode; methods 1
    remote_disconnect, 2 remote_reconnect (parameter integer 0)."""
    d = supply.dc

    def method(connect):
        def act(params):
            if params is not None and params[0] != axdr.INTEGER:
                raise O.DataAccessError(O.TYPE_UNMATCHED)
            if supply.remote(connect) is not None:  # refused by the control mode / state
                raise O.DataAccessError(O.TEMPORARY_FAILURE)
        return act

    def set_mode(v):
        if v[0] != axdr.ENUM or v[1] > 6:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        supply.set_mode(v[1])

    reg.add(O.CosemObject(O.DISCONNECT_CONTROL, 0, O.obis(0, 0, 96, 3, 10), {
        2: O.Attr(lambda: (axdr.BOOLEAN, d.output_state), None, R_PUB),
        3: O.Attr(lambda: (axdr.ENUM, d.control_state), None, R_PUB),
        4: O.Attr(lambda: (axdr.ENUM, d.control_mode), set_mode, R_MGMT_RW),
    }, {1: O.Method(method(False), M_MGMT), 2: O.Method(method(True), M_MGMT)}))


class _ProfileSource:
    """The load profile's stored entries as profile_generic rows (0 = oldest); nothing copied."""

    def __init__(self, lp, clock):
        self.lp = lp
        self.clock = clock

    def count(self):
        return self.lp.count()

    def row(self, i):
        r = self.lp.get(self.lp.count() - 1 - i)
        if r is None:  # a damaged slot: the ring skips it; report a temporary failure
            raise O.DataAccessError(O.TEMPORARY_FAILURE)
        v = r[3]
        return ((axdr.OCTET_STRING, datetime_of(self.clock, r[0])), (axdr.UNSIGNED, r[1]),
                (axdr.DOUBLE_LONG_UNSIGNED, v[0]), (axdr.DOUBLE_LONG_UNSIGNED, v[1]),
                (axdr.DOUBLE_LONG_UNSIGNED, v[2]), (axdr.DOUBLE_LONG_UNSIGNED, v[3]))


class _EventSource:
    def __init__(self, events, clock):
        self.events = events
        self.clock = clock

    def count(self):
        return len(self.events)

    def capacity(self):
        return self.events.size

    def row(self, i):
        t, code, a, b = self.events.get(len(self.events) - 1 - i)
        return ((axdr.OCTET_STRING, datetime_of(self.clock, t)), (axdr.LONG_UNSIGNED, code),
                (axdr.DOUBLE_LONG, a), (axdr.DOUBLE_LONG, b))


def add_event_log(reg, events, clock):
    from meter.cores.dlms.profile import profile_generic
    ob = O.obis
    reg.add(profile_generic(ob(0, 0, 99, 98, 0), _EventSource(events, clock),
                            [(O.CLOCK, ob(0, 0, 1, 0, 0), 2, 0), (O.DATA, ob(0, 0, 96, 11, 0), 2, 0),
                             (O.DATA, ob(0, 0, 96, 11, 1), 2, 0), (O.DATA, ob(0, 0, 96, 11, 2), 2, 0)],
                            0, R_PUB))


def add_profile(reg, lp, clock):
    from meter.cores.dlms.profile import profile_generic
    ob = O.obis
    reg.add(profile_generic(ob(1, 0, 99, 1, 0), _ProfileSource(lp, clock),
                            [(O.CLOCK, ob(0, 0, 1, 0, 0), 2, 0), (O.DATA, ob(0, 0, 96, 10, 1), 2, 0),
                             (O.REGISTER, ob(1, 0, 1, 8, 0), 2, 0), (O.REGISTER, ob(1, 0, 2, 8, 0), 2, 0),
                             (O.REGISTER, ob(1, 0, 3, 8, 0), 2, 0), (O.REGISTER, ob(1, 0, 4, 8, 0), 2, 0)],
                            lp.period, R_PUB))


def add_update(reg, update):
    """Image transfer and firmware identification on the UpdateService (built after the model:
    the app calls this from its update step)."""
    from meter.services.cosem_image import add_image_objects
    return add_image_objects(reg, update, MGMT, R_PUB)


def build(registers, clock, supply, keys, identity, client_title=b"", profile=None, events=None,
          calendar=None, credit=None):
    """identity: {'ldn': bytes (16), 'serial': str, 'equipment_id': str}; profile: the
    LoadProfile service (or None); events: the EventLog (or None); calendar: the TariffService
    (or None); credit: the CreditService (or None: no prepayment)."""
    reg = O.Registry()
    add_clock(reg, clock)
    ldn = identity.get("ldn") or b""
    reg.add(O.data(O.obis(0, 0, 42, 0, 0), O.const_getter((axdr.OCTET_STRING, ldn)), R_PUB))
    for e, k in ((0, "serial"), (1, "equipment_id")):
        v = str(identity.get(k, "")).encode()
        reg.add(O.data(O.obis(0, 0, 96, 1, e), O.const_getter((axdr.VISIBLE_STRING, v)), R_PUB))
    if supply is not None:
        add_supply(reg, supply)
        add_limiter(reg, supply)
    if credit is not None:  # before the registers: the account objects own the 0-0:19.x names
        from meter.services.cosem_credit import add_credit_objects
        add_credit_objects(reg, credit, R_PUB)
    add_registers(reg, registers)
    if profile is not None:
        add_profile(reg, profile, clock)
    if events is not None:
        add_event_log(reg, events, clock)
    if calendar is not None:
        from meter.services.cosem_calendar import add_calendar
        add_calendar(reg, calendar, clock, R_MGMT_RW, R_PUB, M_MGMT)
    reg.add(O.sap_assignment(O.obis(0, 0, 41, 0, 0), [(1, ldn)], R_PUB))
    reg.add(security_setup(O.obis(0, 0, 43, 0, 0), keys, 0, {MGMT: O.READ}, M_MGMT, client_title))
    return reg
