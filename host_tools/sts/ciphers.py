"""Block encryption by EA code (IEC 62055-41): 07 STA (sta.py), 09 DEA/DES (`cryptography`),
11 MISTY1 (misty1.py). Blocks are 64-bit ints, keys bytes (8, 8 and 16 bytes)."""
from . import keys, sta
from .misty1 import Misty1

KEY_BYTES = {7: 8, 9: 8, 11: 16}
NAMES = {7: "STA", 9: "DEA", 11: "MISTY1"}


def check(ea, key):
    if ea not in KEY_BYTES:
        raise ValueError("EA must be 07, 09 or 11")
    if len(key) != KEY_BYTES[ea]:
        raise ValueError("EA%02d needs a %d-bit decoder key" % (ea, KEY_BYTES[ea] * 8))


def _run(ea, key, block, forward):
    check(ea, key)
    if ea == 7:
        return (sta.encrypt if forward else sta.decrypt)(key, block)
    raw = block.to_bytes(8, "big")
    if ea == 9:
        out = (keys.des_encrypt if forward else keys.des_decrypt)(key, raw)
    else:
        m = Misty1(key)
        out = m.encrypt(raw) if forward else m.decrypt(raw)
    return int.from_bytes(out, "big")


def encrypt(ea, key, block):
    return _run(ea, key, block, True)


def decrypt(ea, key, block):
    return _run(ea, key, block, False)
