# STS tokens (IEC 62055-41) on the meter: owns the decoder's state (the key record in force, the
# TID memory, the bad-token lockout) and carries out the decoder's actions on the other services.
#
#   ts = TokenService(config, provisioned_key, credit, supply, events, clock, save)
#   ts.enter(digits) -> the display text of the result (keypad, optical port); every result goes
#                       to the event log as TOKEN_RESULT (a = result code, b = class << 4 | subclass)
#   ts.last          (code, text) of the newest entry
#   dump_into / load_from / start(): the state section (SECTION), restored before start()
#
# Identity: board config "sts" (ea 7/9/11, kt, krn, ti, ken, sgc, base 1993/2014/2035, pan for
# the display only, tid_count 50, lockout_after 5, lockout_s 60, lockout_max_s 86400, mfr_code).
# The decoder key comes from the board key store ("sts_decoder_key"); it lives in the KeyRecord
# only, which hides it in repr(), and it is never logged, shown or readable over a port. After a
# key change token set the new record is kept in this section of the state journal (the meter's
# own flash, like the key store) and overrides the provisioned one.
#
# Durability (the 62055-41 rule: a TID is recorded before its credit is given). The decoder
# updates the TID memory in RAM and returns RECORD_TID then ADD_CREDIT. Both become durable in ONE
# state-journal record: the credit service's add_credit() saves the whole state store, which
# dumps this section (with the new TID) and the credit section together. A power cut before that
# record is complete restores neither (the token was not acknowledged: typing it again gives its
# credit once); after it, both (typing it again gives Used). There is no state with one and not
# the other, so credit can never be given twice nor an acknowledged token lost. Only then is the
# result shown. If the credit service refuses, the TID memory is put back (nothing changed).
import struct

from meter.common import events as ev
from meter.cores.prepay.account import MAX
from meter.cores.sts import decoder as D
from meter.cores.sts import result as R
from meter.cores.sts.keyrec import KeyRecord, RECORD_SIZE
from meter.cores.sts.lockout import RECORD_SIZE as LOCK_SIZE
from meter.cores.sts.tid import BASE_YEARS

SECTION = 0x5354  # "ST"
KEY_NAME = "sts_decoder_key"
_WH_PER_TENTH = 100  # 0.1 kWh (or 0.1 currency unit) in the account's milli units


def key_record(cfg, key):
    """The provisioned KeyRecord from the "sts" identity and the key store's bytes (ValueError)."""
    base = cfg.get("base", 1993)
    if base not in BASE_YEARS:
        raise ValueError("sts: base must be 1993, 2014 or 2035")
    if key is None:
        raise ValueError("sts: no decoder key in the key store")
    return KeyRecord(cfg.get("ea", 7), key, cfg.get("kt", 2), cfg.get("krn", 1), cfg.get("ti", 1),
                     cfg.get("ken", 255), cfg.get("sgc", 0), BASE_YEARS.index(base))


class TokenService:
    def __init__(self, cfg, key, credit, supply, events, clock, save):
        energy = credit is None or credit.acc.unit == 1
        n = cfg.get("tid_count", 50)
        self.dec = D.Decoder(D.Config(
            credit=(0,) if energy else (4,), mfr_code=cfg.get("mfr_code", 0), tid_capacity=n,
            lockout_after=cfg.get("lockout_after", 5), lockout_s=cfg.get("lockout_s", 60),
            lockout_max_s=cfg.get("lockout_max_s", 86400)))
        D.Decoder.check_key(key)
        self.key = key
        self.pan = str(cfg.get("pan", ""))
        self.credit = credit
        self.supply = supply
        self.events = events
        self.clock = clock
        self.save = save
        self.tariff_rate = 0
        self.unbalance_w = 0
        self.last = None
        self.count = 0  # entries since boot
        self._tid_n = 4 + 3 * n
        self._undo = bytearray(self._tid_n)  # the TID record before a credit (put back on refusal)
        # section: version, key-changed flag, key record, TID record, lockout record, tariff rate,
        # phase unbalance limit
        self.state_size = 2 + RECORD_SIZE + self._tid_n + LOCK_SIZE + 8
        self._loaded = None

    # -- entry ---------------------------------------------------------------------------------------
    def _room(self):
        cr = self.credit
        if cr is None:
            return 0
        return (MAX - cr.acc.token) // _WH_PER_TENTH

    def enter(self, digits):
        now = self.clock.now()
        dec = self.dec
        self._undo[:] = dec.tid_record()
        code, acts = dec.enter(digits, now, self.key, self._room())
        dirty = False
        for a in acts:
            op = a[0]
            if op == D.ADD_CREDIT:
                # durable with the TID in one journal record (see the module comment)
                r = self.credit.add_credit(a[2] * _WH_PER_TENTH, 1, a[3]) if self.credit else "no account"
                if r is None:
                    dirty = False  # add_credit() saved the whole state, this section included
                else:
                    dec.tids.load(self._undo, self.key.base)
                    code = R.OVERFLOW
            elif op == D.DISPLAY:
                pass
            else:
                dirty = self._apply(a, now) or dirty
        if dirty:
            self.save()
        t = dec.tok
        self.events.add(now, ev.TOKEN_RESULT, code,
                        0xFF if code in (R.FORMAT, R.LOCKOUT) else t.cls << 4 | t.sub)
        text = R.NAMES[code]
        self.last = (code, text)
        self.count += 1
        return text

    def _apply(self, a, now):
        """Carry out one non-credit action; True if the state must be saved."""
        op = a[0]
        if op == D.SET_KEY:
            self.key = a[1]
            self.events.add(now, ev.STS_KEY_CHANGED, a[1].krn, a[1].base)
        elif op == D.SET_MAX_POWER:
            lim = self.supply.limiter
            lim.set_thresholds(a[1], lim.threshold_emergency)
            self.supply.changed()
        elif op == D.CLEAR_CREDIT:
            # register 0xFFFF = all; else the credit type of the one account (0 energy, 4-7 currency)
            mine = (0,) if self.dec.config.credit & 1 else (4, 5, 6, 7)
            if self.credit is not None and (a[1] == 0xFFFF or a[1] in mine):
                self.credit.clear_credit()
        elif op == D.SET_TARIFF_RATE:
            self.tariff_rate = a[1]
        elif op == D.SET_PHASE_UNBALANCE:
            self.unbalance_w = a[1]
        elif op == D.RECORD_LOCKOUT:
            lk = self.dec.lock
            if lk.level():
                self.events.add(now, ev.STS_LOCKOUT, lk.until(), lk.level())
        elif op not in (D.RECORD_TID, D.CLEAR_TAMPER):
            return False  # METER_TEST: display only
        if op in (D.SET_MAX_POWER, D.CLEAR_CREDIT, D.SET_TARIFF_RATE, D.CLEAR_TAMPER,
                  D.SET_PHASE_UNBALANCE):
            self.events.add(now, ev.STS_MANAGEMENT, self.dec.tok.sub, a[1] if len(a) > 1 else 0)
        return True

    # -- persistence ---------------------------------------------------------------------------------
    def dump_into(self, buf):
        buf[0] = 1
        buf[1] = 1
        o = 2
        buf[o:o + RECORD_SIZE] = self.key.to_bytes()
        o += RECORD_SIZE
        buf[o:o + self._tid_n] = self.dec.tid_record()
        o += self._tid_n
        buf[o:o + LOCK_SIZE] = self.dec.lockout_record()
        struct.pack_into("<ii", buf, o + LOCK_SIZE, self.tariff_rate, self.unbalance_w)

    def load_from(self, buf):
        if buf[0] != 1:
            return False
        self._loaded = bytes(buf)
        return True

    def start(self):
        """After the state store's restore: the restored key/TIDs/lockout, or a fresh memory."""
        b = self._loaded
        self._loaded = None
        if b is None:
            self.dec.restore(None, None, self.key)
            return
        o = 2
        try:
            key = KeyRecord.from_bytes(b[o:o + RECORD_SIZE])
            o += RECORD_SIZE
            self.dec.restore(b[o:o + self._tid_n], b[o + self._tid_n:o + self._tid_n + LOCK_SIZE], key)
        except ValueError:  # a record of another TID count or version: start empty, key as provisioned
            self.dec.restore(None, None, self.key)
            return
        self.key = key
        self.tariff_rate, self.unbalance_w = struct.unpack_from("<ii", b, o + self._tid_n + LOCK_SIZE)
