# Account (IC 111), credit (IC 112) and charge (IC 113) over the REAL prepayment account
# (services/credit.py + cores/prepay/account.py). Expected values are worked out here from the
# account's documented top-up order (debt recovery takes its percentage first) and the Blue Book
# 4.6.2-4.6.4 attribute types, not read back from the mapping.
# mp-heap: 1M
import struct

from mptest import eq
import dlms_client as C
from meter.services.credit import SOURCE_TEST
from dlms_meter import Meter

ACC = bytes((0, 0, 19, 0, 0, 255))
TOKEN = bytes((0, 0, 19, 10, 0, 255))
EC = bytes((0, 0, 19, 10, 1, 255))
CONS = bytes((0, 0, 19, 20, 0, 255))
DEBT = bytes((0, 0, 19, 20, 2, 255))
OK = b"\xc4\x01\xc1\x00"
AARQ_LLS = bytes.fromhex("6036A1090607608574050801018A0207808B0760857405080201AC0A80083132333435363738"
                         "BE10040E01000000065F1F0400007E1F04B0")
CFG = {"unit": "currency", "payment_mode": 2, "ec_amount": 5000, "ec_threshold": 2000,
       "reconnect_threshold": 100, "low_credit": [3000], "debt": 10000, "debt_percent": 25,
       "prices": [200]}


def dl(v):
    return b"\x05" + struct.pack(">i", v)


def enum(v):
    return bytes((0x16, v))


def meter():
    m = Meter(prepay=CFG)
    eq(m.x(C.aarq())[0], 0x61)
    return m


def test_account_credit_charge_read_the_account():
    m = meter()
    eq(m.x(C.get(111, ACC, 5)), OK + dl(0))  # a new account: nothing yet
    # next credit enabled (bit 2), out of credit (bit 6); low credit (bit 1) is raised when the
    # credit falls through a threshold, not for a new account
    eq(m.x(C.get(111, ACC, 4)), OK + b"\x04\x08\x22")
    eq(m.credit.add_credit(20000, SOURCE_TEST), None)
    # 25 % of 20000 recovers debt (10000 -> 5000), the rest is token credit
    eq(m.x(C.get(111, ACC, 5)), OK + dl(15000))
    eq(m.x(C.get(111, ACC, 8)), OK + dl(5000))
    eq(m.x(C.get(111, ACC, 2)), OK + b"\x02\x02" + enum(2) + enum(2))  # prepayment, active
    eq(m.x(C.get(111, ACC, 3)), OK + b"\x11\x01")  # drawing the token credit (priority 1)
    eq(m.x(C.get(111, ACC, 4)), OK + b"\x04\x08\xa0")  # in credit (bit 0), next credit enabled (bit 2)
    eq(m.x(C.get(111, ACC, 7)), OK + dl(100))
    eq(m.x(C.get(111, ACC, 15)), OK + b"\x02\x03\x0c\x03EUR\x0f\xfd" + enum(2))
    eq(m.x(C.get(111, ACC, 16)), OK + dl(3000))
    eq(m.x(C.get(111, ACC, 9)), OK + C.array(C.octets(TOKEN), C.octets(EC)))
    eq(m.x(C.get(112, TOKEN, 2)), OK + dl(15000))
    eq(m.x(C.get(112, TOKEN, 8)), OK + enum(3))  # in use
    eq(m.x(C.get(112, EC, 3)), OK + enum(2))  # emergency
    eq(m.x(C.get(112, EC, 8)), OK + enum(0))  # enabled, not offered (15000 > threshold 2000)
    eq(m.x(C.get(112, EC, 9)), OK + dl(5000))
    eq(m.x(C.get(113, DEBT, 12)), OK + dl(5000))
    eq(m.x(C.get(113, DEBT, 13)), OK + b"\x12\x09\xc4")  # 25 % = 2500/10000
    eq(m.x(C.get(113, DEBT, 3)), OK + enum(2))  # payment-event based
    eq(m.x(C.get(113, CONS, 2)), OK + dl(5000))  # everything charged so far: the recovered debt
    # the credit registers' names are these objects, not Registers (3)
    eq(m.reg.find(ACC).class_id, 111)
    eq(m.reg.find(DEBT).class_id, 113)


def test_read_only_and_absent_without_prepayment():
    m = Meter(prepay=CFG)
    eq(C.parse_aare(m.x(AARQ_LLS, 1))["result"], 0)
    eq(m.x(C.set_(111, ACC, 5, dl(99999)), 1), b"\xc5\x01\xc1\x03")
    eq(m.x(C.set_(112, TOKEN, 2, dl(99999)), 1), b"\xc5\x01\xc1\x03")
    eq(m.credit.acc.available(), 0)
    eq(Meter().reg.find(ACC), None)
    eq(Meter().reg.find(TOKEN), None)
