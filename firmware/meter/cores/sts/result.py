# STS token entry results (IEC 62055-41 token acceptance and rejection, as the meter displays
# them). Exactly one per entered token; index into NAMES for the display text.
from micropython import const

ACCEPT = const(0)  # token carried out
KCT1 = const(1)  # a key change token accepted, its partner(s) still missing
KCT2 = const(2)  # the key change set complete: new key in force
OVERFLOW = const(3)  # the credit register cannot take this amount
KEYTYPE = const(4)  # key type not allowed (new DITK, or the meter holds a DITK)
FORMAT = const(5)  # not 20 digits, value >= 2**66, or class 3
RANGE = const(6)  # a field outside what the meter accepts (KRN, TI, register, amount limit)
FUNCTION = const(7)  # class/subclass this meter does not support
OLD = const(8)  # TID older than the oldest remembered one (memory full)
USED = const(9)  # TID already in memory
KEY_EXPIRED = const(10)  # TID beyond the key expiry number (KEN)
DDTK = const(11)  # credit refused while the meter holds a default key (DDTK)
CRC = const(12)  # CRC mismatch: mistyped token, other meter, or wrong key
MFRCODE = const(13)  # class 1 token for another manufacturer
LOCKOUT = const(14)  # too many bad tokens in a row: entry locked for a while

NAMES = ("Accept", "1stKCT", "2ndKCT", "Overflow", "KeyType", "Format", "Range", "Function", "Old",
         "Used", "KeyExpired", "DDTK", "CRC", "MfrCode", "Lockout")
