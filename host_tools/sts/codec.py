"""STS token codec on the vending side (IEC 62055-41): block layouts, the token CRC, the amount
field, TIDs and the 66-bit / 20-digit token number. Python ints throughout (a block is an int
< 2**64); written independently of the meter firmware (firmware/meter/cores/sts), which the tests
check against this.
"""
import datetime

BASE_YEARS = (1993, 2014, 2035)
TID_BITS = 24

# Field layouts after class and subclass, most significant first, in bits (64 - 4 - 16 = 44 bits).
TID_LAYOUT = (("rnd", 4), ("tid", 24), ("value", 16))  # class 0; class 2 subclasses 0-2, 5-7
LAYOUTS = {
    (1, 0): (("control", 36), ("mfr", 8)),
    (1, 1): (("control", 28), ("mfr", 16)),
    (2, 3): (("kenho", 4), ("krn", 4), ("ro", 1), ("res", 1), ("kt", 2), ("nk", 32)),
    (2, 4): (("kenlo", 4), ("ti", 8), ("nk", 32)),
    (2, 8): (("sgclo", 12), ("nk", 32)),
    (2, 9): (("sgcho", 12), ("nk", 32)),
}


RAW_LAYOUT = (("data", 44),)  # class 1 subclasses 2-15, class 3: no defined fields


def layout(cls, sub):
    if cls == 0 or (cls == 2 and (cls, sub) not in LAYOUTS):
        return TID_LAYOUT
    return LAYOUTS.get((cls, sub), RAW_LAYOUT)


def crc16(data):
    """CRC-16, polynomial 0x8005 reflected (0xA001), init 0xFFFF, no final XOR (CRC-16/MODBUS),
    bit by bit."""
    c = 0xFFFF
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def token_crc(cls, head48):
    """The 16-bit CRC field for class cls and the block's first 48 bits: CRC over the 50 bits
    class|subclass|..., right-aligned in 7 bytes, then its two bytes swapped."""
    c = crc16(((cls << 48) | head48).to_bytes(7, "big"))
    return ((c & 0xFF) << 8) | (c >> 8)


def pack(cls, sub, **fields):
    """The 64-bit plaintext block of a token: subclass, the layout's fields, CRC."""
    head = sub
    for name, bits in layout(cls, sub):
        v = fields.get(name, 0)
        if not 0 <= v < (1 << bits):
            raise ValueError("%s=%r does not fit in %d bits" % (name, v, bits))
        head = (head << bits) | v
    return (head << 16) | token_crc(cls, head)


def unpack(cls, block):
    """(subclass, fields dict, crc_ok) of a plaintext block."""
    head = block >> 16
    sub = head >> 44
    fields = {}
    shift = 44
    for name, bits in layout(cls, sub):
        shift -= bits
        fields[name] = (head >> shift) & ((1 << bits) - 1)
    return sub, fields, token_crc(cls, head) == block & 0xFFFF


# --- the amount field: 2-bit exponent, 14-bit mantissa ---------------------------------------------
def _ladder():
    """(exponent, first value, step) for each exponent: each range starts where the last ended."""
    out, start = [], 0
    for e in range(4):
        out.append((e, start, 10 ** e))
        start += (1 << 14) * 10 ** e
    return out


AMOUNT_LADDER = _ladder()
AMOUNT_MAX = AMOUNT_LADDER[3][1] + 0x3FFF * 1000


def amount_value(field):
    e, start, step = AMOUNT_LADDER[field >> 14]
    return start + (field & 0x3FFF) * step


def amount_field(units, round_down=False):
    """Field for an amount in 0.1 units. Not exactly representable: ValueError, or with round_down
    the largest representable amount below it (a vendor never gives more than was paid)."""
    if not 0 <= units <= AMOUNT_MAX:
        raise ValueError("amount %d (0.1 units) outside 0..%d" % (units, AMOUNT_MAX))
    for e, start, step in reversed(AMOUNT_LADDER):
        if units >= start:
            m, rest = divmod(units - start, step)
            if rest and not round_down:
                raise ValueError("amount %d (0.1 units) is not representable (step %d above %d)"
                                 % (units, step, start))
            return (e << 14) | m
    raise AssertionError("unreachable")


# --- TIDs ------------------------------------------------------------------------------------------
def base_date(year):
    if year not in BASE_YEARS:
        raise ValueError("base date year must be one of %s" % (BASE_YEARS,))
    return datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc)


def tid_for(when, base_year):
    """Minutes from the base date to `when` (an aware datetime or naive UTC), 24 bits."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    minutes = int((when - base_date(base_year)).total_seconds() // 60)
    if not 0 <= minutes < (1 << TID_BITS):
        raise ValueError("%s is outside base date %d's TID range (rolled over at %s)"
                         % (when.isoformat(), base_year, rollover_at(base_year).isoformat()))
    return minutes


def rollover_at(base_year):
    return base_date(base_year) + datetime.timedelta(minutes=1 << TID_BITS)


def tid_time(tid, base_year):
    return base_date(base_year) + datetime.timedelta(minutes=tid)


# --- the 66-bit TokenData and its 20 digits -------------------------------------------------------
def to_digits(cls, cipher):
    """20 digits of class cls and the 64-bit (encrypted) block: the class bits take block bits
    28..27, whose values move to bits 65..64."""
    displaced = (cipher >> 27) & 3
    n = (displaced << 64) | (cipher & ~(3 << 27)) | (cls << 27)
    return "%020d" % n


def from_digits(digits):
    """(class, 64-bit block) of a 20-digit token number; ValueError if malformed."""
    digits = digits.replace("-", "").replace(" ", "")
    if len(digits) != 20 or not digits.isdigit():
        raise ValueError("a token is 20 decimal digits")
    n = int(digits)
    if n >> 66:
        raise ValueError("token number is 2**66 or more")
    cls = (n >> 27) & 3
    block = (n & ((1 << 64) - 1) & ~(3 << 27)) | (((n >> 64) & 3) << 27)
    return cls, block


def group(digits):
    """'1234-5678-...' for display."""
    return "-".join(digits[i:i + 4] for i in range(0, 20, 4))
