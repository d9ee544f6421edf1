# OMS security mode 5 (EN 13757-7 9.4.3): AES-128-CBC, IV = M A ACC*8, no padding; the first
# two decrypted bytes must be the 0x2F2F check. Decrypts in place in the frame buffer.
import metercrypto
from micropython import const

OK = const(0)
ERR_LENGTH = const(30)  # CF says more blocks than the frame holds
ERR_CHECK = const(31)  # no 2F2F after decryption: wrong key (or corrupt frame)


class Mode5:
    def __init__(self):
        self.iv = bytearray(16)

    def decrypt(self, key, tpl, b, end):
        """Decrypt tpl.nblocks blocks at tpl.data_off in place. OK or an error code; on
        ERR_CHECK the buffer holds garbage and must not be used."""
        n = tpl.nblocks * 16
        p = tpl.data_off
        if n == 0 or p + n > end:
            return ERR_LENGTH
        tpl.iv_into(b, self.iv)
        mv = memoryview(b)[p:p + n]
        metercrypto.cbc_decrypt_into(key, self.iv, mv, mv)
        if b[p] != 0x2F or b[p + 1] != 0x2F:
            return ERR_CHECK
        return OK
