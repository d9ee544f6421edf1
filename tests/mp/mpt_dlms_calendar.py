# Activity calendar (IC 20) and special days table (IC 11) over the REAL tariff calendar and
# TariffService (services/cosem_calendar.py). Expected bytes are built here from the Blue Book
# 4.5.5 / 4.5.3 attribute definitions and the JSON calendar text, not from the mapping's code.
# mp-heap: 1M
import os
import struct
import binascii

from mptest import eq
import dlms_client as C
from meter.common.events import CALENDAR_PASSIVE, CALENDAR_ACTIVATED, CALENDAR_REJECTED
from meter.services import tariff_config as ts
from dlms_meter import Meter, T0

CAL = bytes((0, 0, 13, 0, 0, 255))
SDT = bytes((0, 0, 11, 0, 0, 255))
SCRIPT = bytes((0, 0, 10, 0, 100, 255))
AARQ_LLS = bytes.fromhex("6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
                         "BE10040E01000000065F1F0400007E1F04B0")
OK = b"\xc4\x01\xc1\x00"


def u8(v):
    return bytes((0x11, v))


def action_(h, m, rate):
    return C.structure(C.octets(bytes((h, m, 0, 0))), C.octets(SCRIPT), C.u16(rate))


def season(name, y, mo, d, week):
    return C.structure(C.octets(name), C.octets(struct.pack(">HBBBBBBBhB", y, mo, d, 0xFF, 0, 0, 0, 0xFF,
                                                            -0x8000, 0xFF)), C.octets(week))


def dt(y, mo, d, h, mi, dev, wd=0xFF):
    return struct.pack(">HBBBBBBBhB", y, mo, d, wd, h, mi, 0, 0, dev, 0)


def get_all(m, req, sap=16):
    """GET, following a block transfer (Green Book 9.3.7 DataBlock-G) -> the whole Data bytes."""
    r = m.x(req, sap)
    if r[:2] == b"\xc4\x01":
        eq(r[3], 0)
        return r[4:]
    data = b""
    k = 0
    while True:
        eq(r[:2], b"\xc4\x02")
        no = struct.unpack(">I", r[4:8])[0]
        k += 1
        eq((no, r[8]), (k, 0))
        n = r[9]
        p = 10
        if n & 0x80:
            p = 10 + (n & 0x7F)
            n = int.from_bytes(r[10:p], "big")
        eq(p + n, len(r))
        data += r[p:]
        if r[3]:
            return data
        r = m.x(C.get_next(no), sap)


def meter(sap):
    d = "/tmp/mpt_dlms_cal_" + binascii.hexlify(os.urandom(4)).decode()
    os.mkdir(d)
    m = Meter(d)
    m.dir = d
    if sap == 1:
        eq(C.parse_aare(m.x(AARQ_LLS, 1))["result"], 0)
    else:
        eq(m.x(C.aarq())[0], 0x61)
    return m


def clean(m):
    for n in os.listdir(m.dir):
        os.remove(m.dir + "/" + n)
    os.rmdir(m.dir)


def test_active_attributes_read_the_tariff_calendar():
    m = meter(16)
    try:
        eq(m.x(C.get(20, CAL, 2)), OK + C.octets(b"NL two-rate"))
        # firmware/config/tariff.json: day profiles by name order: offpeak = 0, workday = 1
        eq(m.x(C.get(20, CAL, 3)), OK + C.array(season(b"all year", 0xFFFF, 1, 1, b"nl")))
        eq(m.x(C.get(20, CAL, 4)), OK + C.array(C.structure(C.octets(b"nl"), *(
            [u8(1)] * 5 + [u8(0)] * 2))))
        eq(m.x(C.get(20, CAL, 5)), OK + C.array(
            C.structure(u8(0), C.array(action_(0, 0, 1))),
            C.structure(u8(1), C.array(action_(0, 0, 1), action_(7, 0, 2), action_(23, 0, 1)))))
        # no passive calendar: empty passive attributes, activation time not specified
        eq(m.x(C.get(20, CAL, 9)), OK + b"\x01\x00")
        eq(m.x(C.get(20, CAL, 10)), OK + C.octets(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x80\x00\xff"))
        # special days (class 11): {index, date (5), day_id}; the most specific entries first
        r = get_all(m, C.get(11, SDT, 2))
        n = len(m.tariff.cal.specials)
        eq(n > 60 and n < 128, True)
        eq(r[:2], bytes((0x01, n)))
        want = C.structure(C.u16(0), C.octets(struct.pack(">HBBB", 2024, 4, 1, 0xFF)), u8(0))
        eq(r[2:2 + len(want)], want)  # 2024-04-01 Easter Monday, offpeak
        eq(r[-len(want):], C.structure(C.u16(n - 1), C.octets(struct.pack(">HBBB", 0xFFFF, 12, 26, 0xFF)),
                                       u8(0)))
        # the public client cannot write
        eq(m.x(C.set_(20, CAL, 6, C.octets(b"x"))), b"\xc5\x01\xc1\x03")
    finally:
        clean(m)


PASSIVE = (C.octets(b"summer"),
           C.array(season(b"all", 0xFFFF, 1, 1, b"w")),
           C.array(C.structure(C.octets(b"w"), *([u8(1)] * 7))),
           C.array(C.structure(u8(0), C.array(action_(0, 0, 1))),
                   C.structure(u8(1), C.array(action_(0, 0, 3), action_(12, 0, 4)))))


def test_passive_calendar_written_activates_through_the_tariff_service():
    m = meter(1)
    try:
        for k in range(4):
            eq(m.x(C.set_(20, CAL, 6 + k, PASSIVE[k]), 1), b"\xc5\x01\xc1\x00")
        eq(m.x(C.get(20, CAL, 8), 1), OK + PASSIVE[2])  # the draft reads back
        eq(m.tariff.passive, None)  # nothing scheduled before the activation time is written
        # T0 = 2025-01-15 12:00 UTC; activate 2025-01-16 00:00 CET (23:00 UTC)
        t_act = T0 + 11 * 3600
        eq(m.x(C.set_(20, CAL, 10, C.octets(dt(2025, 1, 16, 0, 0, -60))), 1), b"\xc5\x01\xc1\x00")
        eq(m.tariff.activation, t_act)
        eq(m.tariff.passive.name, "summer")
        eq(m.events.count_code(CALENDAR_PASSIVE), 1)
        # stored like an optical C.90.3 commit: the passive file + its schedule; C.90.3 shows it
        eq(sorted(os.listdir(m.dir)), sorted([ts.PASSIVE, ts.PASSIVE_ACT]))
        eq(m.svc.r_passive(), "%08X,250116000000" % m.svc.passive_crc)
        eq(m.x(C.get(20, CAL, 7), 1), OK + PASSIVE[1])  # now read from the scheduled calendar
        eq(m.x(C.get(20, CAL, 10), 1), OK + C.octets(dt(2025, 1, 16, 0, 0, -60, 4)))  # a Thursday
        # before t_act the NL calendar (workday 12:00 -> rate 2); from t_act day 1: 12:00 -> rate 4
        eq(m.tariff.rate_at(T0), 2)
        eq(m.tariff.rate_at(t_act + 13 * 3600), 4)
        eq(m.tariff.cal.name, "summer")
        m.svc.after_tick()
        eq(m.events.count_code(CALENDAR_ACTIVATED), 1)
        eq(sorted(os.listdir(m.dir)), [ts.ACTIVE])
        eq(m.x(C.get(20, CAL, 2), 1), OK + C.octets(b"summer"))
    finally:
        clean(m)


def test_bad_passive_writes_change_nothing():
    m = meter(1)
    try:
        # wrong shapes: type-unmatched, nothing drafted
        eq(m.x(C.set_(20, CAL, 8, C.array(C.structure(C.octets(b"w"), u8(1)))), 1), b"\xc5\x01\xc1\x0c")
        eq(m.x(C.set_(20, CAL, 9, C.array(C.structure(u8(0), C.array(C.structure(
            C.octets(b"\x19\x00\x00\x00"), C.octets(SCRIPT), C.u16(1)))))), 1), b"\xc5\x01\xc1\x0c")
        eq(m.x(C.get(20, CAL, 9), 1), OK + b"\x01\x00")
        for k in range(4):
            eq(m.x(C.set_(20, CAL, 6 + k, PASSIVE[k]), 1), b"\xc5\x01\xc1\x00")
        # an activation time in the past: temporary-failure
        eq(m.x(C.set_(20, CAL, 10, C.octets(dt(2025, 1, 14, 0, 0, -60))), 1), b"\xc5\x01\xc1\x02")
        # a week naming day_id 7 that no day profile has: the service rejects it (other-reason)
        eq(m.x(C.set_(20, CAL, 8, C.array(C.structure(C.octets(b"w"), *([u8(7)] * 7)))), 1),
           b"\xc5\x01\xc1\x00")
        eq(m.x(C.set_(20, CAL, 10, C.octets(dt(2025, 2, 1, 0, 0, -60))), 1), b"\xc5\x01\xc1\xfa")
        eq(m.events.count_code(CALENDAR_REJECTED), 1)
        eq("d007" in m.svc.last_error, True)
        eq(m.tariff.passive, None)
        eq(m.events.count_code(CALENDAR_PASSIVE), 0)
        eq(os.listdir(m.dir), [])
        eq(m.tariff.cal.name, "NL two-rate")
    finally:
        clean(m)
