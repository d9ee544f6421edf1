# The STS token decoder a meter runs (IEC 62055-41 MeterApplicationProcess, token acceptance):
# a sans-I/O state machine. The owner (the credit service) calls
#     code, actions = decoder.enter(digits, now, key, room)
#   digits  the 20 entered digits (bytes/bytearray; a str is accepted and converted)
#   now     meter seconds (UTC since 2020-01-01), for the bad-token lockout only
#   key     the KeyRecord in force, from the owner's key store (the decoder never keeps it)
#   room    None, an int, or a sequence indexed by credit subclass: the most the credit register can
#           still take, in 0.1 units; a larger amount is refused with Overflow
# code is one of result.py's 15 codes (result.NAMES[code] is the display text); actions is a list
# of tuples for the owner to carry out IN ORDER:
#   ("RECORD_LOCKOUT",)              persist lockout_record() (a lock started, or was reset)
#   ("SET_KEY", KeyRecord)           store the new key record (key change set complete)
#   ("RECORD_TID", tid)              the decoder remembered this TID: persist tid_record(); tid is
#                                    None after a rollover key change cleared the memory
#   ("ADD_CREDIT", subclass, amount, tid)  class 0: subclass 0 electricity (0.1 kWh), 1 water,
#                                    2 gas, 3 time, 4-7 currency (CREDIT_TYPES); amount in 0.1 of
#                                    the register's unit, at most amount.MAX (< 2**30)
#   ("SET_MAX_POWER", watts)         class 2/0 maximum power limit
#   ("CLEAR_CREDIT", register)       class 2/1: credit register 0-7 (as the class 0 subclasses),
#                                    0xFFFF = all registers
#   ("SET_TARIFF_RATE", rate)        class 2/2: the 16-bit rate field as sent
#   ("CLEAR_TAMPER",)                class 2/5
#   ("SET_PHASE_UNBALANCE", watts)   class 2/6 maximum phase power unbalance limit
#   ("SET_WATER_FACTOR", factor)     class 2/7 (only if configured)
#   ("METER_TEST", subclass, ctl_hi, ctl_lo)  class 1 InitiateMeterTest/Display: the control
#                                    field's high bits and low 24 bits (token.py)
#   ("DISPLAY", text)                always last: result.NAMES[code]
#
# Durability, required of the owner: persist RECORD_TID (the TID record) BEFORE applying the action
# after it (the credit), and show DISPLAY only when everything before it is durable. Best, write
# the TID record and the new credit in ONE journal record. Then a power cut can never give credit
# twice (the TID is durable first: a re-entered token is Used) and never loses a token the meter
# acknowledged (Accept is shown only after both are durable); a cut between two separate writes
# loses that one token's credit, never more. SET_KEY comes before RECORD_TID(None) of a rollover:
# if only the key lands, restore() finds the TID record of the older base date and clears it.
# If persisting fails, call restore() with the last durable records: the RAM state goes back.
#
# State changes: a result other than Accept/1stKCT/2ndKCT changes nothing but the lockout state
# (lockout.py: CRC and Format results count as bad tokens; any token with a good CRC resets the
# count). State: the TID memory, the lockout, the pending key change parts; all preallocated.
# Decoding allocates only the action list and its tuples (EA07).
from . import result, amount, cipher, keychange
from .result import NAMES
from .keyrec import KT_DITK, KT_DDTK
from .token import Token
from .tid import TidMemory
from .lockout import Lockout

RECORD_LOCKOUT = "RECORD_LOCKOUT"
SET_KEY = "SET_KEY"
RECORD_TID = "RECORD_TID"
ADD_CREDIT = "ADD_CREDIT"
SET_MAX_POWER = "SET_MAX_POWER"
CLEAR_CREDIT = "CLEAR_CREDIT"
SET_TARIFF_RATE = "SET_TARIFF_RATE"
CLEAR_TAMPER = "CLEAR_TAMPER"
SET_PHASE_UNBALANCE = "SET_PHASE_UNBALANCE"
SET_WATER_FACTOR = "SET_WATER_FACTOR"
METER_TEST = "METER_TEST"
DISPLAY = "DISPLAY"

CREDIT_TYPES = ("electricity", "water", "gas", "time", "currency", "currency", "currency", "currency")

_SHOW = tuple((DISPLAY, n) for n in NAMES)
_PERSIST_LOCK = (RECORD_LOCKOUT,)
_MGMT = {0: SET_MAX_POWER, 1: CLEAR_CREDIT, 2: SET_TARIFF_RATE, 5: CLEAR_TAMPER, 6: SET_PHASE_UNBALANCE,
         7: SET_WATER_FACTOR}


def _mask(subs):
    m = 0
    for s in subs:
        if not 0 <= s <= 15:
            raise ValueError("subclass 0..15")
        m |= 1 << s
    return m


class Config:
    """What this meter supports. credit: class 0 subclasses (default electricity only); mgmt: class
    2 subclasses (default all but 7, water meter factor); test: class 1 subclasses; mfr_code: the
    manufacturer code class 1 tokens must carry; max_amount: the largest credit per token (0.1
    units) before Range, None = any; tid_capacity; lockout_after bad tokens lock for lockout_s
    seconds, doubling up to lockout_max_s."""

    def __init__(self, credit=(0,), mgmt=(0, 1, 2, 3, 4, 5, 6, 8, 9), test=(0, 1), mfr_code=0,
                 max_amount=None, tid_capacity=50, lockout_after=5, lockout_s=60, lockout_max_s=86400):
        self.credit = _mask(credit)
        self.mgmt = _mask(mgmt)
        self.test = _mask(test)
        self.mfr_code = mfr_code
        self.max_amount = max_amount
        self.tid_capacity = tid_capacity
        self.lockout_after = lockout_after
        self.lockout_s = lockout_s
        self.lockout_max_s = lockout_max_s


class Decoder:
    def __init__(self, config=None):
        c = config or Config()
        self.config = c
        self.tok = Token()
        self.tids = TidMemory(c.tid_capacity)
        self.lock = Lockout(c.lockout_after, c.lockout_s, c.lockout_max_s)
        self.kc = keychange.KeyChange()

    # --- persistence ---------------------------------------------------------------------------
    def tid_record(self):
        return self.tids.record()

    def lockout_record(self):
        return self.lock.record()

    def restore(self, tid_record, lockout_record, key):
        """Load the persisted records (either may be None: start empty). ValueError if one is
        malformed. Drops any pending key change parts."""
        if tid_record is None:
            self.tids.clear(key.base)
        else:
            self.tids.load(tid_record, key.base)
        if lockout_record is not None:
            self.lock.load(lockout_record)
        self.kc.cancel()

    @staticmethod
    def check_key(key):
        """Raise cipher.UnsupportedAlgorithm if this build cannot decrypt with key's algorithm
        (call it when the key store is loaded)."""
        cipher.check(key.ea)

    # --- token entry ---------------------------------------------------------------------------
    def enter(self, digits, now, key, room=None):
        if self.lock.locked(now):
            return result.LOCKOUT, [_SHOW[result.LOCKOUT]]
        if isinstance(digits, str):
            digits = digits.encode()
        t = self.tok
        cipher.check(key.ea)  # a build without the algorithm raises before anything changes
        code = t.decode(digits, key)
        if code:
            acts = []
            if self.lock.bad(now):
                acts.append(_PERSIST_LOCK)
            acts.append(_SHOW[code])
            return code, acts
        acts = []
        if self.lock.good():
            acts.append(_PERSIST_LOCK)
        if t.cls == 1:
            code = self._test(acts)
        elif t.cls == 2 and keychange.is_kct(t.sub):
            code = self._key_change(acts, key)
        else:
            code = self._tid_token(acts, key, room)
        acts.append(_SHOW[code])
        return code, acts

    def _test(self, acts):
        t = self.tok
        if not self.config.test >> t.sub & 1:
            return result.FUNCTION
        if t.mfr != self.config.mfr_code:
            return result.MFRCODE
        acts.append((METER_TEST, t.sub, t.ctl_hi, t.ctl_lo))
        return result.ACCEPT

    def _key_change(self, acts, key):
        if not self.config.mgmt >> self.tok.sub & 1:
            return result.FUNCTION
        code, new = self.kc.offer(self.tok, key)
        if code == result.KCT2:
            acts.append((SET_KEY, new))
            if new.base != key.base:
                self.tids.clear(new.base)
                acts.append((RECORD_TID, None))
        return code

    def _tid_token(self, acts, key, room):
        t = self.tok
        sub = t.sub
        credit = t.cls == 0
        if not (self.config.credit if credit else self.config.mgmt) >> sub & 1:
            return result.FUNCTION
        if key.kt == KT_DITK:
            return result.KEYTYPE
        if credit and key.kt == KT_DDTK:
            return result.DDTK
        if t.tid >> 16 > key.ken:
            return result.KEY_EXPIRED
        code = self.tids.check(t.tid)
        if code:
            return code
        v = t.value
        if credit:
            v = amount.decode(v)
            mx = self.config.max_amount
            if mx is not None and v > mx:
                return result.RANGE
            if room is not None and v > (room if isinstance(room, int) else room[sub]):
                return result.OVERFLOW
            op = (ADD_CREDIT, sub, v, t.tid)
        else:
            name = _MGMT.get(sub)
            if name is None:
                return result.FUNCTION
            if sub == 1 and v > 7 and v != 0xFFFF:
                return result.RANGE
            op = (name,) if sub == 5 else (name, v)
        self.tids.add(t.tid)
        acts.append((RECORD_TID, t.tid))
        acts.append(op)
        return result.ACCEPT
