# A SAMPLE COSEM object model for the DLMS peer tests (MicroPython and CPython-free): a clock,
# identity data, registers with scalers, a 1000-entry load profile, a disconnect-control-like
# object with methods, a writable text, SAP assignment and security setup, over an in-memory
# `state` dict. Sample values only; the real mapping onto the meter's services comes later.
# It shows how a mapping builds a registry (see build()).
from meter.cores.dlms import axdr
from meter.cores.dlms import objects as O
from meter.cores.dlms import cosemtime
from meter.cores.dlms.profile import profile_generic
from meter.cores.dlms.secsetup import security_setup
from meter.cores.dlms.association import Client
from meter.cores.dlms.security import Keys
from meter.cores.dlms import apdu as A
from meter.common import timeutil

PUBLIC = 16
MGMT = 1

# test keys (Green Book / gurux example values; sample only)
SERVER_TITLE = b"OMF\x00\x00\x00\x00\x01"
CLIENT_TITLE = b"ABCDEFGH"
EK = bytes(range(16))                               # 000102..0F
AK = bytes(range(0xD0, 0xE0))                       # D0D1..DF
KEK = bytes(range(0x10, 0x20))
LLS_PASSWORD = b"12345678"

R_PUB = {PUBLIC: O.READ, MGMT: O.READ}
R_MGMT_RW = {PUBLIC: O.READ, MGMT: O.READ_WRITE}
R_MGMT_ONLY = {MGMT: O.READ_WRITE}
M_MGMT = {MGMT: O.M_ACCESS}

TZ_MIN = 60  # local = UTC + 60 min (deviation -60), no DST in the sample
PROFILE_N = 1000
PROFILE_PERIOD = 900
PROFILE_T0 = timeutil.to_secs(2025, 1, 1) - PROFILE_N * PROFILE_PERIOD  # UTC of entry 0


def dt_bytes(utc):
    y, mo, d, h, mi, s, wd = timeutil.from_secs(utc + TZ_MIN * 60)
    return cosemtime.datetime(y, mo, d, h, mi, s, wd, 0, -TZ_MIN, 0)


def dt_utc(b):
    f = cosemtime.unpack(b)
    if not cosemtime.valid(f):
        raise O.DataAccessError(O.TYPE_UNMATCHED)
    dev = f[8] if f[8] != cosemtime.DEVIATION_UNSPECIFIED else -TZ_MIN
    return timeutil.to_secs(f[0], f[1], f[2], f[4], f[5], f[6]) + dev * 60


class Profile:
    """The profile's entries, computed (a real mapping reads the load profile ring)."""

    def count(self):
        return PROFILE_N

    def row(self, i):
        t = PROFILE_T0 + (i + 1) * PROFILE_PERIOD
        return ((axdr.OCTET_STRING, dt_bytes(t)), (axdr.UNSIGNED, 0),
                (axdr.DOUBLE_LONG_UNSIGNED, 1000000 + 37 * i), (axdr.DOUBLE_LONG_UNSIGNED, 5 * i))


def make_keys():
    return Keys(SERVER_TITLE, ek=EK, ak=AK, kek=KEK, lls={MGMT: LLS_PASSWORD})


def clients():
    return [Client(PUBLIC),
            Client(MGMT, mechs=(A.MECH_LLS, A.MECH_GMAC), contexts=(A.CTX_LN, A.CTX_LN_CIPHERED))]


def build(state, keys, clock_now):
    """state: dict of sample values (mutated by set/action); clock_now() -> UTC meter seconds."""
    reg = O.Registry()
    ob = O.obis

    def get_time():
        return (axdr.OCTET_STRING, dt_bytes(clock_now() + state["clock_offset"]))

    def set_time(v):
        if v[0] != axdr.OCTET_STRING or len(v[1]) != 12:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        state["clock_offset"] = dt_utc(v[1]) - clock_now()

    reg.add(O.clock(ob(0, 0, 1, 0, 0), get_time, set_time, R_MGMT_RW, time_zone=-TZ_MIN,
                    dst_enabled=False))
    reg.add(O.data(ob(0, 0, 42, 0, 0), O.const_getter((axdr.OCTET_STRING, b"OMF0000000000001")), R_PUB))
    reg.add(O.data(ob(0, 0, 96, 1, 0), O.const_getter((axdr.VISIBLE_STRING, b"12345678")), R_PUB))
    reg.add(O.data(ob(1, 0, 0, 2, 0), O.const_getter((axdr.VISIBLE_STRING, b"omf-0.1")), R_PUB))

    def get_text():
        return (axdr.OCTET_STRING, state["text"])

    def set_text(v):
        if v[0] != axdr.OCTET_STRING or len(v[1]) > 64:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        state["text"] = v[1]

    reg.add(O.data(ob(0, 0, 96, 13, 0), get_text, R_MGMT_RW, set_text))

    def reg_get(key, tag):
        return lambda: (tag, state[key])

    reg.add(O.register(ob(1, 0, 1, 8, 0), reg_get("import_wh", axdr.DOUBLE_LONG_UNSIGNED), 0, 30, R_PUB))
    reg.add(O.register(ob(1, 0, 2, 8, 0), reg_get("export_wh", axdr.DOUBLE_LONG_UNSIGNED), 0, 30, R_PUB))
    reg.add(O.register(ob(1, 0, 32, 7, 0), reg_get("voltage_dv", axdr.LONG_UNSIGNED), -1, 35, R_PUB))
    reg.add(O.register(ob(1, 0, 31, 7, 0), reg_get("current_ca", axdr.LONG_UNSIGNED), -2, 33, R_PUB))
    reg.add(O.register(ob(1, 0, 1, 7, 0), reg_get("power_w", axdr.DOUBLE_LONG), 0, 27, R_PUB))

    clock_def = (O.CLOCK, ob(0, 0, 1, 0, 0), 2, 0)
    reg.add(profile_generic(ob(1, 0, 99, 1, 0), Profile(),
                            [clock_def, (O.DATA, ob(0, 0, 96, 10, 1), 2, 0),
                             (O.REGISTER, ob(1, 0, 1, 8, 0), 2, 0),
                             (O.REGISTER, ob(1, 0, 2, 8, 0), 2, 0)],
                            PROFILE_PERIOD, R_PUB))

    # disconnect control (class 70 v0): 2 output_state, 3 control_state, 4 control_mode;
    # methods 1 remote_disconnect, 2 remote_reconnect (parameter integer 0)
    def relay(on):
        def act(params):
            if params is not None and params[0] != axdr.INTEGER:
                raise O.DataAccessError(O.TYPE_UNMATCHED)
            state["relay"] = on
        return act

    def set_mode(v):
        if v[0] != axdr.ENUM or v[1] > 6:
            raise O.DataAccessError(O.TYPE_UNMATCHED)
        state["control_mode"] = v[1]

    reg.add(O.CosemObject(O.DISCONNECT_CONTROL, 0, ob(0, 0, 96, 3, 10), {
        2: O.Attr(lambda: (axdr.BOOLEAN, state["relay"]), None, R_PUB),
        3: O.Attr(lambda: (axdr.ENUM, 1 if state["relay"] else 0), None, R_PUB),
        4: O.Attr(lambda: (axdr.ENUM, state["control_mode"]), set_mode, R_MGMT_RW),
    }, {1: O.Method(relay(False), M_MGMT), 2: O.Method(relay(True), M_MGMT)}))

    reg.add(O.sap_assignment(ob(0, 0, 41, 0, 0), [(1, b"OMF0000000000001")], R_PUB))
    reg.add(security_setup(ob(0, 0, 43, 0, 0), keys, 0, {MGMT: O.READ}, M_MGMT, CLIENT_TITLE))
    return reg


def initial_state():
    return {"clock_offset": 0, "text": b"hello", "import_wh": 1234567, "export_wh": 89012,
            "voltage_dv": 2301, "current_ca": 1234, "power_w": -2840, "relay": True,
            "control_mode": 1}
