"""Token generation for one meter (IEC 62055-41 token classes 0, 1, 2), vending side.

    v = Vendor(decoder_key, ea=7, base_year=1993)
    t = v.credit(100, subclass=0, when=datetime(...), rnd=5)   # 10.0 kWh
    t.digits                                                  # '2371...' (20 digits)
    v.max_power(5000), v.clear_credit(0xFFFF), v.tariff_rate(r), v.clear_tamper(),
    v.phase_unbalance(w), v.water_factor(f)                   # class 2 with TID
    v.key_change(new_key, kt=2, krn=2, ti=1, ken=255, rollover=False, sgc=None)  # [Token, ...]
    test_token(control, mfr, subclass=0)                      # class 1, not encrypted
    v.decode(digits)                                          # fields of a token for this key

Each returns a Token (digits, cls, subclass, fields, block = the plaintext block). Class 0 and
class 2 tokens carry a TID: `when` (default now, UTC) in minutes since the base date, or `tid`
given directly; `rnd` defaults to a random nibble. Key change sets are encrypted with the current
key and carry the new one: 64-bit keys in subclasses 3 (high half) and 4 (low half), 128-bit keys
(EA11) in 3, 4, 8, 9 (new key = NKHO:NKMO1:NKMO2:NKLO from subclasses 3, 9, 8, 4).
"""
import collections
import datetime
import secrets

from . import ciphers, codec

Token = collections.namedtuple("Token", "digits cls subclass fields block")

CREDIT_SUBCLASSES = {0: "electricity", 1: "water", 2: "gas", 3: "time", 4: "currency",
                     5: "currency", 6: "currency", 7: "currency"}
MGMT_SUBCLASSES = {0: "max power limit", 1: "clear credit", 2: "tariff rate", 3: "key change 1st",
                   4: "key change 2nd", 5: "clear tamper", 6: "phase unbalance limit",
                   7: "water meter factor", 8: "key change 3rd", 9: "key change 4th"}


def _token(cls, sub, key=None, ea=None, **fields):
    block = codec.pack(cls, sub, **fields)
    cipher = block if cls == 1 else ciphers.encrypt(ea, key, block)
    return Token(codec.to_digits(cls, cipher), cls, sub, fields, block)


def test_token(control=0, mfr=0, subclass=0):
    """Class 1 InitiateMeterTest/Display: subclass 0 = 36-bit control + 2-digit MfrCode (8 bits),
    subclass 1 = 28-bit control + 4-digit MfrCode (16 bits). Not encrypted."""
    if subclass not in (0, 1):
        raise ValueError("class 1 subclass must be 0 or 1")
    return _token(1, subclass, control=control, mfr=mfr)


class Vendor:
    def __init__(self, decoder_key, ea=7, base_year=1993):
        ciphers.check(ea, bytes(decoder_key))
        codec.base_date(base_year)
        self._key = bytes(decoder_key)
        self.ea = ea
        self.base_year = base_year

    def __repr__(self):
        return "Vendor(EA%02d, base %d, key hidden)" % (self.ea, self.base_year)

    def _tid(self, when, tid):
        if tid is not None:
            if not 0 <= tid < (1 << codec.TID_BITS):
                raise ValueError("TID is 24 bits")
            return tid
        when = when or datetime.datetime.now(datetime.timezone.utc)
        return codec.tid_for(when, self.base_year)

    def _with_tid(self, cls, sub, value, when, tid, rnd):
        rnd = secrets.randbelow(16) if rnd is None else rnd
        return _token(cls, sub, self._key, self.ea, rnd=rnd, tid=self._tid(when, tid), value=value)

    def credit(self, units, subclass=0, when=None, tid=None, rnd=None, round_down=False):
        """Class 0 TransferCredit of `units` 0.1 units (0.1 kWh for electricity)."""
        if subclass not in CREDIT_SUBCLASSES:
            raise ValueError("credit subclass 0..7")
        return self._with_tid(0, subclass, codec.amount_field(units, round_down), when, tid, rnd)

    def management(self, subclass, value=0, when=None, tid=None, rnd=None):
        if subclass not in (0, 1, 2, 5, 6, 7):
            raise ValueError("TID-carrying class 2 subclasses are 0, 1, 2, 5, 6, 7")
        return self._with_tid(2, subclass, value, when, tid, rnd)

    def max_power(self, watts, **kw):
        return self.management(0, watts, **kw)

    def clear_credit(self, register=0xFFFF, **kw):
        return self.management(1, register, **kw)

    def tariff_rate(self, rate, **kw):
        return self.management(2, rate, **kw)

    def clear_tamper(self, **kw):
        return self.management(5, 0, **kw)

    def phase_unbalance(self, watts, **kw):
        return self.management(6, watts, **kw)

    def water_factor(self, factor, **kw):
        return self.management(7, factor, **kw)

    def key_change(self, new_key, kt, krn, ti, ken=255, rollover=False, sgc=None):
        """The key change set moving the meter from this vendor's key to new_key."""
        new_key = bytes(new_key)
        ciphers.check(self.ea, new_key)
        if not (1 <= kt <= 3 and 1 <= krn <= 9 and 0 <= ti <= 99 and 0 <= ken <= 255):
            raise ValueError("new KT 1..3 (a DITK cannot be sent), KRN 1..9, TI 0..99, KEN 0..255")
        half = lambda a: int.from_bytes(new_key[a:a + 4], "big")  # noqa: E731
        enc = dict(key=self._key, ea=self.ea)
        wide = len(new_key) == 16
        out = [_token(2, 3, kenho=ken >> 4, krn=krn, ro=int(bool(rollover)), kt=kt, nk=half(0), **enc),
               _token(2, 4, kenlo=ken & 15, ti=ti, nk=half(12 if wide else 4), **enc)]
        if wide:
            if sgc is None or not 0 <= sgc <= 999999:
                raise ValueError("a 128-bit key change carries the SGC (0..999999)")
            out += [_token(2, 8, sgclo=sgc & 0xFFF, nk=half(8), **enc),
                    _token(2, 9, sgcho=sgc >> 12, nk=half(4), **enc)]
        return out

    def decode(self, digits):
        """A dict of the token's fields as this key decrypts them (crc_ok False: not for it)."""
        cls, cipher = codec.from_digits(digits)
        block = cipher if cls == 1 else ciphers.decrypt(self.ea, self._key, cipher)
        sub, fields, ok = codec.unpack(cls, block)
        out = dict(cls=cls, subclass=sub, crc_ok=ok, **fields)
        if ok and "tid" in fields:
            out["time"] = codec.tid_time(fields["tid"], self.base_year).isoformat()
            if cls == 0:
                out["amount_units"] = codec.amount_value(fields["value"])
        return out
