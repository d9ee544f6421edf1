# The token service (services/tokens.py) with the real credit service and account: what one state
# journal record holds at each save (TID and credit together), a power cut modelled as a restore
# from the last saved record (credit exactly once), a refused credit that changes nothing, key
# change and lockout persisted, a corrupt section ignored, and the key never shown.
# mp-heap: 1M
from mptest import eq
from meter.common.registers import Registers
from meter.common import events as ev
from meter.cores.prepay.account import Account, MAX
from meter.cores.sts import result as R
from meter.services.credit import CreditService
from meter.services import tokens as T
import sts_mint as mint

K1 = bytes.fromhex("0123456789abcdef")
K2 = bytes.fromhex("1122334455667788")
CFG = {"ea": 7, "kt": 2, "krn": 1, "ti": 1, "sgc": 123456, "base": 1993, "tid_count": 4,
       "lockout_after": 2, "lockout_s": 60}


class Clock:
    t = 1000

    def now(self):
        return self.t


class Meter:
    """A credit service and a token service sharing one 'journal record' (the saved snapshot)."""

    def __init__(self, record=None):
        self.records = []
        self.clock = Clock()
        self.events = ev.EventLog(32)
        self.cr = CreditService(Account({"unit": "energy", "payment_mode": 2}), None, None, Registers(),
                                self.events, self.clock, None, self.save)
        self.ts = T.TokenService(CFG, T.key_record(CFG, K1), self.cr, None, self.events, self.clock,
                                 self.save)
        if record is not None:
            self.cr.load_from(memoryview(record[0]))
            self.ts.load_from(memoryview(record[1]))
        self.cr.start(0)
        self.ts.start()

    def save(self):
        a = bytearray(self.cr.state_size)
        b = bytearray(self.ts.state_size)
        self.cr.dump_into(a)
        self.ts.dump_into(b)
        self.records.append((bytes(a), bytes(b)))


def test_accept_writes_tid_and_credit_in_one_record():
    m = Meter()
    tok = mint.credit(K1, 100, 5000)
    eq(m.ts.enter(tok), "Accept")
    eq(m.cr.acc.token, 10000)
    eq(len(m.records), 1)  # one save carries both
    after = Meter(m.records[-1])
    eq(after.cr.acc.token, 10000)
    eq(after.ts.dec.tids.tids(), [5000])
    eq(after.ts.enter(tok), "Used")
    eq(after.cr.acc.token, 10000)
    e = m.events.get(0)
    eq((e[1], e[2], e[3]), (ev.TOKEN_RESULT, R.ACCEPT, 0))


def test_power_cut_before_the_record_gives_credit_once():
    m = Meter()
    eq(m.ts.enter(mint.credit(K1, 10, 4000)), "Accept")
    rec0 = m.records[-1]
    tok = mint.credit(K1, 30, 4100)
    m.ts.enter(tok)  # the cut tears this record: the meter comes back from rec0
    back = Meter(rec0)
    eq(back.cr.acc.token, 1000)
    eq(back.ts.enter(tok), "Accept")
    eq(back.cr.acc.token, 4000)
    again = Meter(back.records[-1])
    eq(again.ts.enter(tok), "Used")
    eq(again.cr.acc.token, 4000)


def test_refused_credit_changes_nothing():
    m = Meter()
    m.cr.acc.token = MAX - 50
    before = bytes(m.ts.dec.tid_record())
    eq(m.ts.enter(mint.credit(K1, 100, 6000)), "Overflow")
    eq(bytes(m.ts.dec.tid_record()), before)
    eq(m.cr.acc.token, MAX - 50)


def test_key_change_and_lockout_persist_key_hidden():
    m = Meter()
    kct = mint.kct_set(K1, K2, krn=2)
    eq(m.ts.enter(kct[1]), "1stKCT")
    eq(m.ts.enter(kct[0]), "2ndKCT")
    eq(m.ts.key.krn, 2)
    bad = "99999999999999999999"
    eq(m.ts.enter(bad), "Format")
    eq(m.ts.enter(bad), "Format")
    eq(m.ts.enter(mint.credit(K2, 10, 7000)), "Lockout")
    back = Meter(m.records[-1])
    eq(back.ts.key.krn, 2)
    eq(back.ts.enter(mint.credit(K2, 10, 7000)), "Lockout")
    back.clock.t += 61
    eq(back.ts.enter(mint.credit(K1, 10, 7100)), "CRC")  # the old key is refused
    eq(back.ts.enter(mint.credit(K2, 10, 7000)), "Accept")
    for text in (repr(back.ts.key), str(back.ts.key), back.ts.last[1]):
        eq(K2.hex() in text or str(K2) in text, False)


def test_corrupt_section_starts_empty_with_the_provisioned_key():
    m = Meter()
    m.ts.enter(mint.credit(K1, 10, 100))
    a, b = m.records[-1]
    b = bytearray(b)
    b[2] = 99  # key record version
    back = Meter((a, bytes(b)))
    eq(back.ts.key.krn, 1)
    eq(back.ts.dec.tids.tids(), [])
