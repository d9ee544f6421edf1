# Credit: the prepayment account (cores/prepay/account.py) fed by the energy registers, its friendly
# periods, the one way credit comes in, and the transaction log.
#
#   cr = CreditService(account, friendly, supply, registers, events, clock, ring, save)
#   cr.add_credit(amount, source, ref) -> None, or the refusal reason (nothing changed). Durable
#        before it returns: the account state and the transaction go into the state journal in
#        one record (save()), then the transaction is appended to the credit log ring. A power cut
#        before save() returns leaves the old state (the top-up was not acknowledged); after it, the
#        top-up is there, and a log record a cut skipped is appended at the next boot.
#        source: SOURCE_TOKEN (STS, ref = TID), SOURCE_MANAGEMENT (optical/DLMS, ref = 0),
#        SOURCE_TEST (rig and tests).
#   cr.tick(now)          after every metering tick: charges the Wh of every rate register since the
#                         last tick, time-based charges and debt; disconnects when the credit runs
#                         out outside a friendly period; reconnects locally (or makes the meter
#                         ready for the button) when a top-up brings it back
#   cr.button(now)        the customer's button: invokes the offered emergency credit, and confirms
#                         a reconnection the credit allows. Returns a short text for the display.
#   cr.emergency(now)     the keypad code for the emergency credit (same rule)
#   cr.log(k)             k-th newest transaction (t, tx, amount, source, ref, credited) or None
#   cr.dump_into / load_from   state section: the account, the rate registers' last values, the
#                         last transaction
# Registers (units: kWh with 3 decimals for an energy account = Wh; the currency with 3 decimals):
#   0-0:19.0.0 available credit, 0-0:19.10.0 token credit, 0-0:19.10.1 emergency credit left,
#   0-0:19.20.0 total charged, 0-0:19.20.2 debt remaining.
import struct
from array import array

from meter.common import events as ev
from meter.common import obis_energy as O
from meter.cores.prepay import account as A
from meter.services.supply import CAUSE_CREDIT
from meter.services.metrology import ROLLOVER

SECTION = 0x4352  # "CR"
SOURCE_TOKEN = 1
SOURCE_MANAGEMENT = 2
SOURCE_TEST = 3
TX_RECORD = 32  # ring slot: seq, payload 23 bytes, crc, commit
_TX = "<iHiBIi"  # t, tx, amount, source, ref, credited (19 bytes)
_LAST = "<iHiBIi"


class CreditService:
    def __init__(self, account, friendly, supply, registers, events, clock, ring=None, save=None,
                 currency="EUR"):
        self.acc = account
        self.friendly = friendly
        self.supply = supply
        self.regs = registers
        self.events = events
        self.clock = clock
        self.ring = ring
        self.save = save
        unit = "kWh" if account.unit == A.ENERGY else currency
        self.s_avail = registers.define("0-0:19.0.0", unit, -3, 0)
        self.s_token = registers.define("0-0:19.10.0", unit, -3, 0)
        self.s_ec = registers.define("0-0:19.10.1", unit, -3, 0)
        self.s_paid = registers.define("0-0:19.20.0", unit, -3, 0)
        self.s_debt = registers.define("0-0:19.20.2", unit, -3, 0)
        self._rate_slots = array("h", [registers.slot(O.imp_rate(r)) if registers.has(O.imp_rate(r))
                                       else -1 for r in range(1, 9)])
        self._prev = array("i", [0] * 8)
        self._d = array("i", [0] * 8)
        self._started = False
        self.last = None  # (t, tx, amount, source, ref, credited) of the newest transaction
        self._logged_tx = -1
        self.state_size = A.Account.state_size + 32 + struct.calcsize(_LAST) + 1
        self._rec = bytearray(struct.calcsize(_TX))
        self.last_message = ""

    # -- registers and ticks -------------------------------------------------------------------------
    def _rates_now(self, out):
        vals = self.regs.values
        sl = self._rate_slots
        for r in range(8):
            out[r] = vals[sl[r]] if sl[r] >= 0 else 0

    def start(self, now):
        """At boot, after the state store restored the registers and this section."""
        if not self._started:
            self._rates_now(self._prev)  # first start: nothing consumed before
            self._started = True
        self._publish()
        self._append_pending_log()

    def tick(self, now):
        cur = self._d
        self._rates_now(cur)
        prev = self._prev
        for r in range(8):
            d = cur[r] - prev[r]
            prev[r] = cur[r]
            if d < 0:  # the register rolled over (at 10**9 Wh)
                d += ROLLOVER
                if d < 0:
                    d = 0
            cur[r] = d
        friendly = self.friendly.active(now) if self.friendly is not None else False
        connected = self.supply.dc.output_state if self.supply is not None else True
        acc = self.acc
        acc.tick(now, cur, connected, friendly)
        self._emit(now)
        self._supply_rule(now, friendly)
        self._publish()

    def _supply_rule(self, now, friendly):
        sup = self.supply
        if sup is None:
            return
        acc = self.acc
        credit_off = sup.local & (1 << CAUSE_CREDIT)
        if acc.exhausted(friendly):
            if not credit_off:
                self._log(now, ev.CREDIT_EXHAUSTED, acc.available(), 0)
                sup.local_disconnect(CAUSE_CREDIT)
                self.last_message = "NO CREDIT"
        elif credit_off and acc.can_reconnect(friendly):
            sup.local_reconnect(CAUSE_CREDIT)

    def _emit(self, now):
        for code, a, b in self.acc.events:
            self._log(now, code, a, b)
            if code == ev.CREDIT_LOW:
                self.last_message = "LOW CREDIT"

    def _publish(self):
        v = self.regs.values
        acc = self.acc
        v[self.s_avail] = acc.available()
        v[self.s_token] = acc.token
        v[self.s_ec] = acc.ec_in_use()
        v[self.s_paid] = acc.paid
        v[self.s_debt] = acc.debt

    def _log(self, now, code, a, b):
        if self.events is not None:
            self.events.add(now, code, a, b)

    # -- credit in -----------------------------------------------------------------------------------
    def add_credit(self, amount, source, ref=0):
        now = self.clock.now()
        acc = self.acc
        try:
            credited = acc.add_credit(amount, now)
        except ValueError as e:
            return str(e)
        self.last = (now, acc.tx, amount, source, ref & 0xFFFFFFFF, credited)
        self._log(now, ev.CREDIT_ADDED, amount, source)
        self._emit(now)
        friendly = self.friendly.active(now) if self.friendly is not None else False
        self._supply_rule(now, friendly)
        self._publish()
        self.last_message = "CREDIT +%s" % self.amount_text(amount)
        if self.save is not None:
            self.save()  # durable (with the transaction) before the caller acknowledges
        self._append_pending_log()
        return None

    def _append_pending_log(self):
        last = self.last
        if last is None or self.ring is None or last[1] == self._logged_tx:
            return
        newest = self.ring.read(0)
        if newest is not None and struct.unpack_from(_TX, newest, 0)[1] == last[1]:
            self._logged_tx = last[1]  # already in the ring (written before a cut)
            return
        struct.pack_into(_TX, self._rec, 0, *last)
        self.ring.append(self._rec)
        self._logged_tx = last[1]

    def log(self, k):
        if self.ring is None:
            return None
        p = self.ring.read(k)
        return None if p is None else struct.unpack_from(_TX, p, 0)

    def set_payment_mode(self, mode):
        """Management: 1 credit (post-paid) or 2 prepayment (ValueError otherwise, nothing
        changed). Switching to credit mode lifts a disconnection for lack of credit."""
        now = self.clock.now()
        self.acc.set_payment_mode(mode)
        self._log(now, ev.PAYMENT_MODE, mode, 0)
        self._supply_rule(now, self.friendly.active(now) if self.friendly is not None else False)
        self._publish()
        if self.save is not None:
            self.save()

    def clear_credit(self):
        """STS class 2 clear credit: the token credit to zero (the caller saves)."""
        self.acc.clear_credit()
        self._supply_rule(self.clock.now(), self.friendly.active(self.clock.now())
                          if self.friendly is not None else False)
        self._publish()

    def add_debt(self, amount):
        self.acc.add_debt(amount)
        self._publish()
        if self.save is not None:
            self.save()

    # -- the customer --------------------------------------------------------------------------------
    def emergency(self, now):
        if self.acc.invoke_emergency(now):
            self._emit(now)
            self._supply_rule(now, self.friendly.active(now) if self.friendly is not None else False)
            self._publish()
            if self.save is not None:
                self.save()
            self.last_message = "EMERGENCY CREDIT"
            return self.last_message
        return None

    def button(self, now):
        msg = self.emergency(now) if self.acc.ec_offered() else None
        sup = self.supply
        if sup is not None and sup.dc.control_state == 2:  # ready for reconnection
            friendly = self.friendly.active(now) if self.friendly is not None else False
            if sup.local & (1 << CAUSE_CREDIT) and not self.acc.can_reconnect(friendly):
                return msg or "NO CREDIT"
            r = sup.manual_reconnect()
            return msg or ("RECONNECTED" if r is None else r.upper()[:16])
        return msg

    def amount_text(self, v):
        s = "-" if v < 0 else ""
        v = -v if v < 0 else v
        if self.acc.unit == A.ENERGY:
            return "%s%d.%d kWh" % (s, v // 1000, (v % 1000) // 100)
        return "%s%d.%02d" % (s, v // 1000, (v % 1000) // 10)

    # -- persistence ---------------------------------------------------------------------------------
    def dump_into(self, buf):
        acc = self.acc
        n = acc.state_size
        acc.dump_into(buf)
        for r in range(8):
            struct.pack_into("<i", buf, n + 4 * r, self._prev[r])
        last = self.last or (0, 0xFFFF, 0, 0, 0, 0)
        struct.pack_into(_LAST, buf, n + 32, *last)
        buf[n + 32 + struct.calcsize(_LAST)] = 1 if self.last is not None else 0

    def load_from(self, buf):
        acc = self.acc
        n = acc.state_size
        if not acc.load_from(buf):
            return False
        for r in range(8):
            self._prev[r] = struct.unpack_from("<i", buf, n + 4 * r)[0]
        if buf[n + 32 + struct.calcsize(_LAST)]:
            self.last = struct.unpack_from(_LAST, buf, n + 32)
        self._started = True
        return True
