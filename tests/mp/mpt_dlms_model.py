# The meter's COSEM mapping (services/cosem_model.py) over REAL services: MeterClock, the register
# table and SupplyControl with its IC 70 core. Expected bytes are written here from the Blue Book
# encodings (date-time 4.1.6.1, Register scaler_unit, get/set/action-response), not from the code.
import struct

from mptest import eq
import dlms_client as C
from meter.common.events import CLOCK_ADJUSTED, SUPPLY_DISCONNECTED
from dlms_meter import Meter, T0

CLOCK = bytes((0, 0, 1, 0, 0, 255))
DC = bytes((0, 0, 96, 3, 10, 255))
E181 = bytes((1, 0, 1, 8, 1, 255))
V31 = bytes((1, 0, 32, 7, 0, 255))
AARQ_LLS = bytes.fromhex("6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
                         "BE10040E01000000065F1F0400007E1F04B0")


def dt(y, mo, d, wd, h, mi, s, dev, st=0):
    return struct.pack(">HBBBBBBBhB", y, mo, d, wd, h, mi, s, 0, dev, st)


def public():
    m = Meter()
    r = m.x(C.aarq())
    eq(r[0], 0x61)
    return m


def mgmt():
    m = Meter()
    eq(C.parse_aare(m.x(AARQ_LLS, 1))["result"], 0)
    return m


def test_clock_reads_the_meter_clock_in_its_zone():
    m = public()
    # 12:00 UTC = 13:00 CET, deviation -60 min (local = UTC - deviation)
    eq(m.x(C.get(8, CLOCK, 2)), b"\xc4\x01\xc1\x00\x09\x0c" + dt(2025, 1, 15, 3, 13, 0, 0, -60))
    m.bc.t += 61
    eq(m.x(C.get(8, CLOCK, 2))[6:], dt(2025, 1, 15, 3, 13, 1, 1, -60))
    eq(m.x(C.get(8, CLOCK, 3)), b"\xc4\x01\xc1\x00\x10\xff\xc4")  # time_zone long -60


def test_registers_live_with_scaler_unit():
    m = public()
    eq(m.x(C.get(3, E181, 2)), b"\xc4\x01\xc1\x00\x06" + struct.pack(">I", 1234567))
    eq(m.x(C.get(3, E181, 3)), b"\xc4\x01\xc1\x00\x02\x02\x0f\x00\x16\x1e")  # Wh, scaler 0
    eq(m.x(C.get(3, V31, 3)), b"\xc4\x01\xc1\x00\x02\x02\x0f\xff\x16\x23")  # V, scaler -1
    m.regs.add(m.s_e, 10)  # no copy: the next GET sees the service's value
    eq(m.x(C.get(3, E181, 2))[-4:], struct.pack(">I", 1234577))
    eq(m.reg.find(b"\x00\x00\x00\x00\x00\x00"), None)


def test_public_refused_writes_and_methods_nothing_changes():
    m = public()
    eq(m.x(C.set_(8, CLOCK, 2, C.octets(dt(2025, 2, 1, 6, 0, 0, 0, -60)))), b"\xc5\x01\xc1\x03")
    eq(m.bc.t, T0)
    r = m.x(C.action(70, DC, 1, b"\x0f\x00"))
    eq(r[:4], b"\xc7\x01\xc1\x03")
    eq(m.supply.dc.control_state, 1)
    eq(m.relay.cmds, [])


def test_mgmt_sets_clock_through_the_service():
    m = mgmt()
    eq(m.x(C.set_(8, CLOCK, 2, C.octets(dt(2025, 1, 15, 3, 14, 30, 0, -60))), 1), b"\xc5\x01\xc1\x00")
    eq(m.bc.t, T0 + 5400)
    eq(m.events.count_code(CLOCK_ADJUSTED), 1)  # logged like the optical write
    # a wildcard date-time is type-unmatched and changes nothing
    bad = bytearray(dt(2025, 1, 15, 3, 14, 30, 0, -60))
    bad[5] = 0xFF  # hour not specified
    eq(m.x(C.set_(8, CLOCK, 2, C.octets(bytes(bad))), 1), b"\xc5\x01\xc1\x0c")
    eq(m.bc.t, T0 + 5400)


def test_mgmt_remote_disconnect_reconnect_switches_the_relay():
    m = mgmt()
    eq(m.x(C.action(70, DC, 1, b"\x0f\x00"), 1), b"\xc7\x01\xc1\x00\x00")
    eq(m.supply.dc.control_state, 0)
    eq(m.relay.cmds, [False])
    eq(m.events.count_code(SUPPLY_DISCONNECTED), 1)
    eq(m.x(C.get(70, DC, 3), 1), b"\xc4\x01\xc1\x00\x16\x00")
    eq(m.x(C.action(70, DC, 2, b"\x0f\x00"), 1), b"\xc7\x01\xc1\x00\x00")
    eq(m.supply.dc.control_state, 2)  # mode 1: ready for manual reconnection (transition d)
    # mode 0 refuses remote triggers: temporary-failure
    eq(m.x(C.set_(70, DC, 4, b"\x16\x00"), 1), b"\xc5\x01\xc1\x00")
    eq(m.x(C.action(70, DC, 1, b"\x0f\x00"), 1)[:4], b"\xc7\x01\xc1\x02")
    eq(m.supply.dc.control_state, 1)


LIM = bytes((0, 0, 17, 0, 0, 255))


def test_limiter_thresholds_through_the_limiter():
    m = public()
    eq(m.x(C.set_(71, LIM, 4, b"\x06" + struct.pack(">I", 5000))), b"\xc5\x01\xc1\x03")
    eq(m.supply.limiter.threshold_normal, 0)
    m = mgmt()
    eq(m.x(C.set_(71, LIM, 4, b"\x06" + struct.pack(">I", 5000)), 1), b"\xc5\x01\xc1\x00")
    eq(m.supply.limiter.threshold_normal, 5000)
    eq(m.x(C.get(71, LIM, 3), 1), b"\xc4\x01\xc1\x00\x06" + struct.pack(">I", 5000))
    # beyond the limiter's range, or the wrong type: type-unmatched, nothing changes
    eq(m.x(C.set_(71, LIM, 6, b"\x06" + struct.pack(">I", 86401)), 1), b"\xc5\x01\xc1\x0c")
    eq(m.x(C.set_(71, LIM, 4, b"\x09\x01\x00"), 1), b"\xc5\x01\xc1\x0c")
    eq(m.supply.limiter.threshold_normal, 5000)
    # the register-table copy of 0-0:17.0.0 is not a second object
    eq(m.reg.find(LIM).class_id, 71)


EVLOG = bytes((0, 0, 99, 98, 0, 255))


def test_event_log_by_entry_reads_the_event_ring():
    m = mgmt()
    eq(m.x(C.action(70, DC, 1, b"\x0f\x00"), 1)[:5], b"\xc7\x01\xc1\x00\x00")
    n = len(m.events)
    # entry_descriptor: from n to n (the newest), all columns (Blue Book 4.3.6.2)
    sel = C.structure(b"\x06" + struct.pack(">I", n), b"\x06" + struct.pack(">I", n),
                      b"\x12\x00\x01", b"\x12\x00\x00")
    r = m.x(C.get(7, EVLOG, 2, sel=(2, sel)), 1)
    t, code, a, b = m.events.get(0)
    eq(code, SUPPLY_DISCONNECTED)
    eq(r, b"\xc4\x01\xc1\x00\x01\x01\x02\x04\x09\x0c" + CM_dt(m, t) + b"\x12" + struct.pack(">H", code)
       + b"\x05" + struct.pack(">i", a) + b"\x05" + struct.pack(">i", b))


def CM_dt(m, t):
    from meter.services.cosem_model import datetime_of
    return datetime_of(m.clock, t)
