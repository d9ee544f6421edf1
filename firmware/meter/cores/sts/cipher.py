# Token decryption, by the meter's encryption algorithm code (IEC 62055-41 EA):
#   EA07  STA, 64-bit key, in Python (sta.py)
#   EA09  DEA (single DES), 64-bit key: metercrypto.des_ecb_decrypt(key8, block8)
#   EA11  MISTY1, 128-bit key: metercrypto.misty1_ecb_decrypt(key16, block8)
# EA09 and EA11 need those functions in the native module; a build without them refuses the
# algorithm when the decoder is set up (UnsupportedAlgorithm), never halfway through a token.
from micropython import const
import metercrypto
from . import sta

EA07 = const(7)
EA09 = const(9)
EA11 = const(11)

_NATIVE = {EA09: "des_ecb_decrypt", EA11: "misty1_ecb_decrypt"}


class UnsupportedAlgorithm(Exception):
    pass


def key_len(ea):
    """Decoder key length in bytes for an EA code; ValueError for an unknown code."""
    if ea == EA07 or ea == EA09:
        return 8
    if ea == EA11:
        return 16
    raise ValueError("unknown EA code")


def check(ea):
    """Raise UnsupportedAlgorithm unless this build can decrypt with ea."""
    key_len(ea)
    name = _NATIVE.get(ea)
    if name and not hasattr(metercrypto, name):
        raise UnsupportedAlgorithm("EA%02d needs metercrypto.%s, not in this build" % (ea, name))


def decrypt_into(ea, key, blk):
    """Decrypt the 8-byte block blk in place. EA07 allocates nothing; EA09/EA11 allocate the
    native call's 8-byte result."""
    if ea == EA07:
        sta.decrypt_into(key, blk)
        return
    name = _NATIVE.get(ea)
    if name is None or not hasattr(metercrypto, name):
        check(ea)
    r = getattr(metercrypto, name)(key, blk)
    for i in range(8):
        blk[i] = r[i]
