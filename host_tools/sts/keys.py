"""Decoder key generation (IEC 62055-41 DKGA02 and DKGA04) and the meter identity it uses.

Meter PAN: IIN (6 digits, or 4 for legacy meters) + DRN (11, or 13) + a Luhn check digit over
the 17 digits: 18 digits. A 17-digit PAN gets its check digit computed; a wrong one is refused.

PANBlock: the 16 digits before the check digit (the IIN's low digits and the DRN), as 8 bytes of
packed decimal. CONTROLBlock: KT (1 digit) SGC (6) TI (2) KRN (1) then "FFFFFF", as 8 bytes.

DKGA02 (64-bit DES vending key):
    D = PANBlock XOR CONTROLBlock
    DecoderKey = DES-encrypt(VendingKey, D) XOR D XOR VendingKey
  It reproduces the decoder key given for PAN 600727000000000009 in shared/vectors/sts.json.
  (That file, like the Java service it comes from, prints decoder keys byte-reversed:
  6ff35b9d1f3453e6 there is e653341f9d5bf36f here, most significant byte first, which is how the
  STA and the meter use it.)

DKGA04 (160-bit vending key): NIST SP 800-108 KDF in feedback mode with HMAC-SHA-256, no IV and
no counter: K(1) = HMAC(VendingKey, Label || 0x00 || Context || [L]32), DecoderKey = the first
L bits (64 for EA07, 128 for EA11). Label = 0x04 then four length-prefixed ASCII fields: "04"
(the DKGA), the base date ("93", "14", "35"), the EA ("07", "11"), the TI ("01"); Context = 0x04
then SGC (6 digits), KT (1 hex digit), KRN (1 hex digit), the 18-digit PAN, each length-prefixed.
No public vector exists here for DKGA04: this follows the published structure, unverified.
"""
import hashlib
import hmac
import warnings

try:  # DES lives in cryptography's "decrepit" namespace from 43 on
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes


def luhn_digit(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def meter_pan(pan):
    """The 18-digit PAN (with its check digit), validated."""
    pan = pan.replace("-", "").replace(" ", "")
    if not pan.isdigit() or len(pan) not in (17, 18):
        raise ValueError("a meter PAN is 18 digits (IIN + DRN + check digit), or 17 without it")
    if len(pan) == 17:
        return pan + str(luhn_digit(pan))
    if luhn_digit(pan[:17]) != int(pan[17]):
        raise ValueError("PAN check digit is wrong (expected %d)" % luhn_digit(pan[:17]))
    return pan


def pan_block(pan):
    return bytes.fromhex(meter_pan(pan)[1:17])


def control_block(kt, sgc, ti, krn):
    check_params(kt, sgc, ti, krn)
    return bytes.fromhex("%d%06d%02d%dFFFFFF" % (kt, sgc, ti, krn))


def check_params(kt, sgc, ti, krn):
    if not (0 <= kt <= 3 and 0 <= sgc <= 999999 and 0 <= ti <= 99 and 1 <= krn <= 9):
        raise ValueError("KT 0..3, SGC 0..999999, TI 0..99, KRN 1..9")


def des_encrypt(key8, block8):
    """Single DES (DEA) as 3DES with K1 = K2 = K3."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = Cipher(TripleDES(bytes(key8) * 3), modes.ECB()).encryptor()
    return enc.update(bytes(block8)) + enc.finalize()


def des_decrypt(key8, block8):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dec = Cipher(TripleDES(bytes(key8) * 3), modes.ECB()).decryptor()
    return dec.update(bytes(block8)) + dec.finalize()


def _xor(*blocks):
    out = bytearray(len(blocks[0]))
    for b in blocks:
        for i, v in enumerate(b):
            out[i] ^= v
    return bytes(out)


def dkga02(vending_key, pan, kt, sgc, ti, krn):
    vending_key = bytes(vending_key)
    if len(vending_key) != 8:
        raise ValueError("DKGA02 needs a 64-bit vending key")
    d = _xor(pan_block(pan), control_block(kt, sgc, ti, krn))
    return _xor(des_encrypt(vending_key, d), d, vending_key)


def _lv(text):
    raw = text.encode("ascii")
    return bytes([len(raw)]) + raw


def dkga04_input(pan, kt, sgc, ti, krn, base_year, ea, bits):
    check_params(kt, sgc, ti, krn)
    label = b"\x04" + _lv("04") + _lv("%02d" % (base_year % 100)) + _lv("%02d" % ea) + _lv("%02d" % ti)
    context = (b"\x04" + _lv("%06d" % sgc) + _lv("%x" % kt) + _lv("%x" % krn) + _lv(meter_pan(pan)))
    return label + b"\x00" + context + bits.to_bytes(4, "big")


def dkga04(vending_key, pan, kt, sgc, ti, krn, base_year, ea):
    vending_key = bytes(vending_key)
    if len(vending_key) != 20:
        raise ValueError("DKGA04 needs a 160-bit vending key")
    bits = 128 if ea == 11 else 64
    fixed = dkga04_input(pan, kt, sgc, ti, krn, base_year, ea, bits)
    out, prev = b"", b""
    while len(out) * 8 < bits:  # feedback mode: K(i) = PRF(KI, K(i-1) || fixed), K(0) empty
        prev = hmac.new(vending_key, prev + fixed, hashlib.sha256).digest()
        out += prev
    return out[:bits // 8]
