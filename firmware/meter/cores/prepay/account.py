# Prepayment account: credits, charges and debt recovery, sans-I/O and exact (integer arithmetic with
# carried remainders, small ints on 32-bit MCUs). Modelled on DLMS/COSEM account (IC 111), credit
# (IC 112) and charge (IC 113) so that a DLMS layer maps them one to one:
#
#   IC 111 account          payment_mode (1 credit = post-paid, 2 prepayment), account_status
#                           (1 new, 2 active, 3 closed), available_credit, aggregated_debt,
#                           low_credit_threshold(s), clearance (reconnection) threshold
#   IC 112 credit, token    credit_type 0 (token), priority 1: what top-ups add to
#   IC 112 credit, emergency credit_type 2 (emergency), priority 2, requires confirmation (a customer
#                           action) and paying back; preset_credit_amount = ec_amount, offered
#                           (status selectable) below credit_available_threshold = ec_threshold
#   IC 113 charge, consumption  charge_type 0, unit charge per tariff rate
#   IC 113 charge, standing     charge_type 1 (time based), per day
#   IC 113 charge, debt         charge_type 1 (per day) and 2 (payment event: percentage of a
#                           top-up), total_amount_remaining = the debt, capped per collection period
#
# Units. The account counts in one integer unit:
#   unit "energy":   Wh. A top-up of STS electricity tokens (0.1 kWh) is 100 units per token unit.
#                    Consumption charges 1 unit per Wh imported (1-0:1.8.0 increments).
#   unit "currency": 1/1000 of the currency ("milli"). Consumption charges price[rate] milli per
#                    kWh at the active tariff rate: the Wh of each rate register (1-0:1.8.r)
#                    times the price, kept as a remainder below 1 milli (Wh * milli/kWh / 1000).
# Ranges: balances and debt within +-1 073 741 823 units; prices up to 1 000 000 milli/kWh; daily
# amounts up to 1 000 000 units. With 1-s ticks every intermediate is a 31-bit small int (no
# allocation on 32-bit MCUs); time-based charges are accrued in steps of at most 1000 s so that long
# steps (a fast-forward, an outage) stay small too. Results are exact whatever the step.
#
# The credits are drawn in priority order: the token credit, then the emergency credit once the
# customer invoked it. Beyond both (a friendly period, or credit mode) the token credit goes
# negative: that consumption is owed and the next top-up pays it first.
#
# Top-up order (add_credit): (1) the emergency credit used is paid back first and the emergency
# credit becomes available again; (2) debt recovery takes its percentage of the top-up amount
# (capped by what is left of the top-up, the period's cap and the debt remaining); (3) the rest goes
# to the token credit (which pays any negative balance first).
#
#   acc = Account(config)                ValueError naming the culprit
#   acc.tick(now, wh_rates, connected, friendly)   wh_rates: Wh imported per rate since the last
#                                        tick (a sequence of 8 ints); connected: the supply is on;
#                                        friendly: a friendly period is in force (FriendlyPeriods)
#   acc.add_credit(amount, now) -> the part that went to the token credit (ValueError, nothing
#                                        changed, for amount <= 0 or an overflowing balance)
#   acc.available()                      token credit + the invoked emergency credit left
#   acc.exhausted(friendly)              True when a prepayment account should disconnect now
#   acc.can_reconnect(friendly)          True when credit allows reconnecting
#   acc.ec_offered() / acc.invoke_emergency(now) -> True if the emergency credit was invoked
#   acc.events                           (code, a, b) produced by the last call (low credit, ...)
#   acc.dump_into(buf) / acc.load_from(buf)   the persisted state, state_size bytes
import struct

from meter.common import events as ev

ENERGY = 1
CURRENCY = 2
CREDIT_MODE = 1  # payment_mode: post-paid
PREPAYMENT = 2
NEW = 1
ACTIVE = 2
CLOSED = 3

EC_DISABLED = 0
EC_AVAILABLE = 1  # enabled, not offered (credit above its threshold)
EC_SELECTABLE = 2  # offered: the customer may invoke it
EC_IN_USE = 3  # invoked
EC_EXHAUSTED = 4  # invoked and used up

COLLECT_FRIENDLY = 1  # debt is collected during friendly periods
COLLECT_DISCONNECTED = 2  # debt is collected while the supply is off

MAX = 0x3FFFFFFF
_FMT = "<BBBBiiiiiiiiiiiHH"
_KEYS = ("unit", "payment_mode", "prices", "standing_per_day", "low_credit", "ec_amount",
         "ec_threshold", "reconnect_threshold", "debt", "debt_per_day", "debt_percent",
         "debt_cap", "debt_period", "collect", "status")


def _int(cfg, key, lo, hi, default):
    v = cfg.get(key, default)
    if type(v) is not int or not lo <= v <= hi:
        raise ValueError("prepayment: %s must be an integer %d..%d" % (key, lo, hi))
    return v


class Account:
    state_size = struct.calcsize(_FMT)

    def __init__(self, config=None):
        cfg = config or {}
        for k in cfg:
            if k not in _KEYS:
                raise ValueError("prepayment: unknown key %r" % (k,))
        unit = cfg.get("unit", "energy")
        if unit not in ("energy", "currency"):
            raise ValueError("prepayment: unit must be 'energy' or 'currency'")
        self.unit = ENERGY if unit == "energy" else CURRENCY
        self.payment_mode = _int(cfg, "payment_mode", 1, 2, PREPAYMENT)
        self.account_status = _int(cfg, "status", 1, 3, ACTIVE)
        prices = cfg.get("prices", [0] * 8)
        if (not isinstance(prices, list) or not 1 <= len(prices) <= 8 or
                any(type(p) is not int or not 0 <= p <= 1000000 for p in prices)):
            raise ValueError("prepayment: prices must be 1..8 integers 0..1000000 (milli per kWh)")
        self.prices = list(prices) + [prices[-1]] * (8 - len(prices))
        self.standing = _int(cfg, "standing_per_day", 0, 1000000, 0)
        low = cfg.get("low_credit", [])
        if (not isinstance(low, list) or len(low) > 4 or
                any(type(x) is not int or not 0 < x <= MAX for x in low)):
            raise ValueError("prepayment: low_credit must be up to 4 positive thresholds")
        self.low = sorted(low, reverse=True)
        self.ec_amount = _int(cfg, "ec_amount", 0, MAX, 0)
        self.ec_threshold = _int(cfg, "ec_threshold", 0, MAX, 0)
        self.reconnect_threshold = _int(cfg, "reconnect_threshold", 0, MAX, 0)
        self.debt_per_day = _int(cfg, "debt_per_day", 0, 1000000, 0)
        self.debt_percent = _int(cfg, "debt_percent", 0, 100, 0)
        self.debt_cap = _int(cfg, "debt_cap", 0, MAX, 0)  # per period; 0 = no cap
        self.debt_period = _int(cfg, "debt_period", 3600, 31 * 86400, 86400)
        self.collect = _int(cfg, "collect", 0, 3, 0)
        # state
        self.token = 0  # token credit amount (negative: consumption owed)
        self.ec_left = 0  # emergency credit left while invoked
        self.ec_state = EC_AVAILABLE if self.ec_amount else EC_DISABLED
        self.debt = _int(cfg, "debt", 0, MAX, 0)  # aggregated debt: total_amount_remaining
        self.paid = 0  # total charged (consumption + standing + debt): total_amount_paid (mod 2**30)
        self.debt_collected = 0  # in the current collection period
        self.period_start = -1
        self._acc_cons = 0  # consumption charge remainder (milli*Wh/kWh below 1000)
        self._acc_stand = 0  # standing charge remainder (units*s below 86400)
        self._acc_debt = 0  # time-based debt remainder
        self._low_flags = 0  # bit i: low_credit[i] crossed (re-armed above it)
        self.tx = 0  # transactions (top-ups) applied: a counter for the owner's log
        self._t = -1
        self.events = []

    # -- views ---------------------------------------------------------------------------------------
    def available(self):
        return self.token + (self.ec_left if self.ec_state == EC_IN_USE else 0)

    def ec_used(self):
        if self.ec_state in (EC_IN_USE, EC_EXHAUSTED):
            return self.ec_amount - self.ec_left
        return 0

    def exhausted(self, friendly):
        return (self.payment_mode == PREPAYMENT and self.account_status == ACTIVE and
                not friendly and self.available() <= 0)

    def can_reconnect(self, friendly):
        return (self.payment_mode == CREDIT_MODE or friendly or
                self.available() > self.reconnect_threshold)

    def ec_offered(self):
        return self.ec_state == EC_SELECTABLE

    def ec_in_use(self):
        """The emergency credit left while invoked, else 0."""
        return self.ec_left if self.ec_state == EC_IN_USE else 0

    def low_warning(self):
        return self._low_flags != 0

    # -- charging ------------------------------------------------------------------------------------
    def _charge(self, amount):
        """Draw `amount` from the credits in priority order (token, then invoked emergency)."""
        if amount <= 0:
            return
        self.paid = (self.paid + amount) & MAX
        t = self.token
        if t >= amount:
            self.token = t - amount
            return
        if t > 0:
            amount -= t
            self.token = 0
        if self.ec_state == EC_IN_USE:
            e = self.ec_left
            if e >= amount:
                self.ec_left = e - amount
                if self.ec_left == 0:
                    self.ec_state = EC_EXHAUSTED
                return
            amount -= e
            self.ec_left = 0
            self.ec_state = EC_EXHAUSTED
        self.token -= amount

    def tick(self, now, wh_rates, connected=True, friendly=False):
        self.events.clear()
        dt = now - self._t if self._t >= 0 and now > self._t else 0
        self._t = now
        # consumption
        if self.unit == ENERGY:
            wh = 0
            for r in range(8):
                wh += wh_rates[r]
            self._charge(wh)
        else:
            acc = self._acc_cons
            p = self.prices
            for r in range(8):
                d = wh_rates[r]
                if d:
                    acc += d * p[r]
            self._acc_cons = acc % 1000
            self._charge(acc // 1000)
        coll = self.debt_per_day and self._collecting(connected, friendly)
        while dt > 0:  # per day rates over the elapsed seconds, in steps that stay small ints
            d = dt if dt < 1000 else 1000
            dt -= d
            if self.standing:
                a = self._acc_stand + d * self.standing
                self._acc_stand = a % 86400
                self._charge(a // 86400)
            if coll:  # the time-based recovery accrues while collecting; what is owed caps it
                a = self._acc_debt + d * self.debt_per_day
                self._acc_debt = a % 86400
                if self.debt:
                    self._collect_debt(now, a // 86400)
        self._check_low()
        self._check_ec()

    def _collecting(self, connected, friendly):
        if friendly and not self.collect & COLLECT_FRIENDLY:
            return False
        if not connected and not self.collect & COLLECT_DISCONNECTED:
            return False
        return True

    def _period(self, now):
        start = now - now % self.debt_period
        if start != self.period_start:
            self.period_start = start
            self.debt_collected = 0

    def _debt_room(self, now, want):
        """How much of `want` debt recovery may be collected now (cap and debt remaining)."""
        self._period(now)
        n = want if want < self.debt else self.debt
        if self.debt_cap:
            room = self.debt_cap - self.debt_collected
            if n > room:
                n = room
        return n if n > 0 else 0

    def _collect_debt(self, now, want):
        n = self._debt_room(now, want)
        if n:
            self.debt -= n
            self.debt_collected += n
            self._charge(n)

    def _check_low(self):
        a = self.available()
        low = self.low
        for i in range(len(low)):
            bit = 1 << i
            if a < low[i]:
                if not self._low_flags & bit:
                    self._low_flags |= bit
                    self.events.append((ev.CREDIT_LOW, i, low[i]))
            else:
                self._low_flags &= ~bit

    def _check_ec(self):
        st = self.ec_state
        if st == EC_AVAILABLE and self.available() < self.ec_threshold:
            self.ec_state = EC_SELECTABLE
        elif st == EC_SELECTABLE and self.available() >= self.ec_threshold:
            self.ec_state = EC_AVAILABLE

    # -- customer and top-up -------------------------------------------------------------------------
    def invoke_emergency(self, now):
        """The customer's confirmation (button or keypad code). True if the emergency credit is
        now in use; False when it is not offered (disabled, credit above its threshold, already in
        use, or used and not yet paid back)."""
        self.events.clear()
        if self.ec_state != EC_SELECTABLE:
            return False
        self.ec_state = EC_IN_USE
        self.ec_left = self.ec_amount
        self.events.append((ev.EMERGENCY_CREDIT, self.ec_amount, 0))
        return True

    def add_credit(self, amount, now):
        """Apply a top-up (see the module comment for the order). Returns the part credited to the
        token credit after the emergency credit and debt recovery took theirs."""
        self.events.clear()
        if type(amount) is not int or amount <= 0 or amount > MAX:
            raise ValueError("credit: amount must be 1..%d" % MAX)
        if self.token + amount > MAX:
            raise ValueError("credit: balance would overflow")
        rest = amount
        used = self.ec_used()
        if used:
            pay = used if used < rest else rest
            self.ec_left += pay
            rest -= pay
            if self.ec_left >= self.ec_amount:
                self.ec_left = 0
                self.ec_state = EC_AVAILABLE  # paid back: available again
            elif self.ec_state == EC_EXHAUSTED:
                self.ec_state = EC_IN_USE
        if self.debt and self.debt_percent and rest:
            n = self._debt_room(now, amount * self.debt_percent // 100 if amount < 10000000
                                else amount // 100 * self.debt_percent)
            if n > rest:
                n = rest
            if n:
                self.debt -= n
                self.debt_collected += n
                self.paid = (self.paid + n) & MAX
                rest -= n
        self.token += rest
        self.tx = (self.tx + 1) & 0xFFFF
        self._check_low()
        self._check_ec()
        return rest

    def add_debt(self, amount):
        self.events.clear()
        if type(amount) is not int or amount <= 0 or self.debt + amount > MAX:
            raise ValueError("debt: amount must be positive and keep the debt below %d" % MAX)
        self.debt += amount

    def clear_credit(self):
        """STS class 2 'clear credit' (and a management command): the token credit to zero."""
        self.token = 0

    def set_payment_mode(self, mode):
        if mode not in (CREDIT_MODE, PREPAYMENT):
            raise ValueError("payment mode: 1 (credit) or 2 (prepayment)")
        self.payment_mode = mode

    # -- persistence ---------------------------------------------------------------------------------
    def dump_into(self, buf):
        struct.pack_into(_FMT, buf, 0, 1, self.payment_mode, self.account_status, self.ec_state,
                         self.token, self.ec_left, self.debt, self.paid, self.debt_collected,
                         self.period_start, self._acc_cons, self._acc_stand, self._acc_debt,
                         self._t, self._low_flags, self.tx, 0)

    def load_from(self, buf):
        v = struct.unpack_from(_FMT, buf, 0)
        if v[0] != 1 or v[1] not in (1, 2) or v[2] not in (1, 2, 3) or v[3] > 4:
            return False
        (_, self.payment_mode, self.account_status, self.ec_state, self.token, self.ec_left,
         self.debt, self.paid, self.debt_collected, self.period_start, self._acc_cons,
         self._acc_stand, self._acc_debt, self._t, self._low_flags, self.tx, _) = v
        if self.ec_amount == 0:
            self.ec_state = EC_DISABLED
        return True
