"""DLMS security suite 0 against `cryptography`: the HLS-GMAC association, glo-ciphered and
general-glo-ciphered APDUs and the RFC 3394 key transfer are built and checked here with
cryptography's AES-GCM and AES key wrap, and run through the server cores in MicroPython
(unix and unix32) over a pipe."""
import hashlib
import os
import struct
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "dlms"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "mp"))
import dlms_client as C  # noqa: E402
import sample_keys as K  # noqa: E402
from conftest import INTERPRETERS, mp_env, ROOT  # noqa: E402


def enc(ic, apdu, sc=0x30, title=K.CLIENT_TITLE):
    iv = title + struct.pack(">I", ic)
    if sc == 0x30:
        body = AESGCM(K.EK).encrypt(iv, apdu, bytes((sc,)) + K.AK)
        body = body[:-16] + body[-16:-4]  # 12-byte tag: GCM tags truncate
        return bytes((sc,)) + struct.pack(">I", ic) + body
    tag = AESGCM(K.EK).encrypt(iv, b"", bytes((sc,)) + K.AK + apdu)[:12]
    return bytes((sc,)) + struct.pack(">I", ic) + apdu + tag


def dec(content, title=K.SERVER_TITLE):
    """Verify and decrypt SC|IC|ct|tag12 with cryptography (the 12-byte tag is checked by
    recomputing the full tag and comparing its prefix)."""
    sc, ic = content[0], struct.unpack(">I", content[1:5])[0]
    iv = title + content[1:5]
    ct, tag = content[5:-12], content[-12:]
    aad = bytes((sc,)) + K.AK
    # recompute: encrypting the recovered plaintext must give the same ciphertext and tag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    ctr = Cipher(algorithms.AES(K.EK), modes.CTR(iv + b"\x00\x00\x00\x02")).decryptor()
    pt = ctr.update(ct) + ctr.finalize()
    full = AESGCM(K.EK).encrypt(iv, pt, aad)
    assert full[:-16] == ct and full[-16:-4] == tag, "bad tag"
    return sc, ic, pt


def glo(tag, content):
    n = len(content)
    return bytes((tag, n)) + content if n < 128 else bytes((tag, 0x81, n)) + content


def lv(b):
    n = b[1]
    if n < 0x80:
        return b[2:2 + n], 2
    return b[3:3 + b[2]], 3


class Pipe:
    def __init__(self, interp):
        self.p = subprocess.Popen([INTERPRETERS[interp], os.path.join(ROOT, "tests", "dlms", "apdu_pipe.py")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=mp_env(),
                                  cwd=ROOT)

    def x(self, apdu, sap=1):
        self.p.stdin.write("%d %s\n" % (sap, apdu.hex()))
        self.p.stdin.flush()
        line = self.p.stdout.readline().split(" ", 1)
        self.acts = line[1].strip() if len(line) > 1 else ""
        return None if line[0] == "-" else bytes.fromhex(line[0])

    def close(self):
        self.p.stdin.close()
        assert self.p.wait(10) == 0


@pytest.fixture(params=["unix", "unix32"])
def pipe(request):
    p = Pipe(request.param)
    yield p
    p.close()


def gmac(title, ic, challenge):
    t = AESGCM(K.EK).encrypt(title + struct.pack(">I", ic), b"", b"\x10" + K.AK + challenge)[:12]
    return b"\x10" + struct.pack(">I", ic) + t


def associate(pipe):
    ctos = os.urandom(16)
    aarq = C.aarq(context=3, mech=5, title=K.CLIENT_TITLE, auth=ctos, ui=glo(0x21, enc(7, C.initiate_request())))
    aare = C.parse_aare(pipe.x(aarq))
    assert (aare["result"], aare["diag"]) == (0, 14)
    ui = aare["ui"]
    assert ui[0] == 0x28
    sc, ic, pt = dec(ui[2:])
    assert sc == 0x30 and pt[0] == 0x08 and pt[2] == 6  # InitiateResponse, DLMS version 6
    act = C.action(15, bytes((0, 0, 40, 0, 0, 255)), 1, C.octets(gmac(K.CLIENT_TITLE, 8, aare["stoc"])))
    r = pipe.x(glo(0xCB, enc(9, act)))
    assert r[0] == 0xCF
    sc, ic2, pt = dec(lv(r)[0])
    assert ic2 > ic
    assert pt[:8] == b"\xc7\x01\xc1\x00\x01\x00\x09\x11"
    f = pt[8:]
    assert f == gmac(K.SERVER_TITLE, struct.unpack(">I", f[1:5])[0], ctos)
    return ic2


def test_hls_gmac_and_glo_ciphering(pipe):
    ic = associate(pipe)
    text = bytes((0, 0, 96, 13, 0, 255))
    r = pipe.x(glo(0xC9, enc(10, C.set_(1, text, 2, C.octets(b"secret text")))))
    sc, ic2, pt = dec(lv(r)[0])
    assert r[0] == 0xCD and pt == b"\xc5\x01\xc1\x00" and ic2 > ic
    r = pipe.x(glo(0xC8, enc(11, C.get(1, text, 2))))
    assert dec(lv(r)[0])[2] == b"\xc4\x01\xc1\x00\x09\x0bsecret text"
    # authentication only (SC 0x10): the answer is plain text with a GMAC tag
    r = pipe.x(glo(0xC8, enc(12, C.get(1, text, 2), sc=0x10)))
    content = lv(r)[0]
    assert content[0] == 0x10
    pt = content[5:-12]
    assert pt == b"\xc4\x01\xc1\x00\x09\x0bsecret text"
    iv = K.SERVER_TITLE + content[1:5]
    assert AESGCM(K.EK).encrypt(iv, b"", b"\x10" + K.AK + pt)[:12] == content[-12:]
    # general-glo-ciphering (client system title inside)
    c = enc(13, C.get(1, text, 2))
    r = pipe.x(b"\xdb\x08" + K.CLIENT_TITLE + bytes((len(c),)) + c)
    assert r[:10] == b"\xdb\x08" + K.SERVER_TITLE
    assert dec(lv(r[9:])[0])[2] == b"\xc4\x01\xc1\x00\x09\x0bsecret text"
    # a replayed IC and a forged tag are refused; the text stays
    assert pipe.x(glo(0xC9, enc(10, C.set_(1, text, 2, C.octets(b"x")))))[:3] == b"\xd8\x01\x06"
    forged = bytearray(glo(0xC9, enc(20, C.set_(1, text, 2, C.octets(b"x")))))
    forged[-1] ^= 0x80
    assert pipe.x(bytes(forged)) == b"\xd8\x01\x05"
    r = pipe.x(glo(0xC8, enc(21, C.get(1, text, 2))))
    assert dec(lv(r)[0])[2].endswith(b"secret text")


def test_key_transfer_vs_cryptography(pipe):
    associate(pipe)
    new_ek, new_ak = os.urandom(16), os.urandom(16)
    arg = C.array(C.structure(b"\x16\x00", C.octets(aes_key_wrap(K.KEK, new_ek))),
                  C.structure(b"\x16\x02", C.octets(aes_key_wrap(K.KEK, new_ak))))
    r = pipe.x(glo(0xCB, enc(30, C.action(64, bytes((0, 0, 43, 0, 0, 255)), 2, arg))))
    assert dec(lv(r)[0])[2] == b"\xc7\x01\xc1\x00\x00"
    h = lambda k: hashlib.sha256(k).hexdigest()[:16]  # noqa: E731
    assert ("4:0:" + h(new_ek)) in pipe.acts.split() and ("4:2:" + h(new_ak)) in pipe.acts.split()
