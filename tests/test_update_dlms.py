"""Firmware update over DLMS (issue 18): image transfer (IC 18, 0-0:44.0.0.255) driven by the
unmodified gurux-dlms client (GXDLMSImageTransfer's initiate / block / verify / activate
requests) over the TCP wrapper with HLS-GMAC, on the same update service as the optical upload
(services/cosem_image.py -> services/update.py). The meter boots from its simulated flash
(FlashBoot); a signed delta package goes in, is verified and activated, the meter reboots into
it, confirms the trial and reports the new version over DLMS (read by dlms-cosem too) while the
registers continue. A transfer interrupted by a lost connection and a power cut resumes at
image_first_not_transferred_block_number; a tampered block fails the image (status 4, image_verify refused) and
nothing switches; the public client does not see the object and the management client with only
its password (LLS) is refused. A package carrying next_key rotates the firmware key once its
trial is confirmed; the old key's packages are refused from then on."""
import os
import time

import pytest

from conftest import INTERPRETERS
from host_tools.rig import Rig
from host_tools.rig_update import FlashBoot
from host_tools.update import package as P
from test_rig_dlms import AK, CLIENT_TITLE, EK, gx, until
from test_update_rig import UPDATE_CONFIRMED, UPDATE_SWITCHED
from update_support import FW_KEY, KEYS
from peer import free_port

pytestmark = [pytest.mark.rig, pytest.mark.timeout(300),
              pytest.mark.skipif(not os.path.exists(INTERPRETERS["unix"]) or not os.path.exists(P.MPY_CROSS),
                                 reason="interpreters / mpy-cross not built")]
UPDATE_REJECTED = 93
NOT_INITIATED, INITIATED, VERIFIED, VERIFY_FAILED, ACTIVATING, ACTIVATED = 0, 1, 3, 4, 5, 6
OTHER_REASON, DATA_BLOCK_NUMBER_INVALID, OBJECT_UNDEFINED, READ_WRITE_DENIED = 250, 19, 4, 3
LN = "0.0.44.0.0.255"
LLS = b"12345678"


@pytest.fixture(scope="module")
def packages():
    v1 = P.sign(P.build(P.compile_tree("unix_sim"), "unix_sim", "1.0.0", 1), FW_KEY)
    src = open(os.path.join(P.FW, "meter", "ports", "p1_snapshot.py")).read()
    tree = P.compile_tree("unix_sim", {"meter/ports/p1_snapshot.py": "# 1.2.0\n" + src})
    v2 = P.sign(P.build(tree, "unix_sim", "1.2.0", 2, base=P.parse(v1)[1]), FW_KEY)
    return v1, v2


@pytest.fixture()
def meter(packages):
    cfg = {"keys": dict(KEYS, dlms_ek=EK.hex(), dlms_ak=AK.hex(), dlms_lls=LLS.hex()), "dlms": {"tcp_port": free_port()},
           "update": {"trial_s": 20}, "p1": {"profile": "emucs"}}
    rig = Rig(time_rate=0, config=cfg)
    fb = FlashBoot(rig)
    fb.deploy(packages[0])
    rig.start()
    rig.set_load(1, 230, 10)
    try:
        yield rig, fb
    finally:
        rig.close()


_IC = [30000]


def _mgmt(rig):
    from gurux_dlms.enums import Authentication, Security
    _IC[0] += 5000  # above anything this key pair's server counter has seen
    return gx(rig, 1, ic=_IC[0], auth=Authentication.HIGH_GMAC, security=Security.AUTHENTICATION_ENCRYPTION,
              ek=EK, ak=AK, title=CLIENT_TITLE)


def _it():
    from gurux_dlms.objects import GXDLMSImageTransfer
    return GXDLMSImageTransfer(LN)


def _read(g, attr):
    it = _it()
    g.read(it, attr)
    return it


def _blocks(g, it, data, first=0, stop=None):
    """image_block_transfer of blocks first..stop-1, one request each, as gurux makes them;
    -> (block number, error code) of the first refused block, or None."""
    from gurux_dlms import GXDLMSException
    from gurux_dlms.GXReplyData import GXReplyData
    packets = it.imageBlockTransfer(g.c, data, None)
    for n in range(first, len(packets) if stop is None else stop):
        try:
            g.block(packets[n], GXReplyData())
        except GXDLMSException as e:
            return n, e.errorCode
    return None


def _call(g, msgs):
    from gurux_dlms import GXDLMSException
    from gurux_dlms.GXReplyData import GXReplyData
    try:
        g.block(msgs, GXReplyData())
    except GXDLMSException as e:
        return e.errorCode
    return 0


def _ident(rig):
    """The firmware identification objects, public, read with dlms-cosem."""
    from dlms_cosem import cosem, enumerations as E, utils
    from dlms_cosem.clients.dlms_client import DlmsClient
    out = {}
    with DlmsClient.with_tcp_transport("127.0.0.1", rig.dlms_port, 16, 1).session() as cl:
        for ln in ("0-0:0.2.0", "1-0:0.2.8"):
            a, b = ln.split(":")
            c, d, e = b.split(".")
            o = cosem.Obis(int(a[0]), int(a[2]), int(c), int(d), int(e))
            out[ln] = utils.parse_as_dlms_data(cl.get(cosem.CosemAttribute(E.CosemInterface.DATA, o, 2))).decode()
    return out


def _p1_fw(rig):
    """The e-MUCS P1 firmware lines, parsed by dsmr-parser (BELGIUM_FLUVIUS + those lines)."""
    from test_p1_parser import fw_parser
    mark = rig.p1_mark()
    rig.advance(2)
    tg = rig.read_p1_newest(mark)
    p = fw_parser().parse(tg if isinstance(tg, str) else tg.decode("ascii"), throw_ex=True)
    return [getattr(p, "FW_%d" % k).value for k in range(4)]


def _dlms_cosem_first_missing(rig):
    """image_first_not_transferred_block_number read by dlms-cosem (management, HLS-GMAC)."""
    from dlms_cosem import cosem, enumerations as E, utils
    from dlms_cosem.clients.dlms_client import DlmsClient
    _IC[0] += 5000
    cl = DlmsClient.with_tcp_transport(
        "127.0.0.1", rig.dlms_port, 1, 1, authentication_method=E.AuthenticationMechanism.HLS_GMAC,
        encryption_key=EK, authentication_key=AK, client_system_title=CLIENT_TITLE,
        client_initial_invocation_counter=_IC[0])
    with cl.session() as c:
        return utils.parse_as_dlms_data(c.get(cosem.CosemAttribute(18, cosem.Obis(0, 0, 44, 0, 0), 4)))


def _events(rig, code):
    return [e for e in rig.query("events") if e[1] == code]


def test_image_transfer_resume_verify_activate(meter, packages):
    from gurux_dlms import GXDLMSException
    rig, fb = meter
    v1, v2 = packages
    before = _ident(rig)
    assert before["0-0:0.2.0"] == "1.0.0" and len(before["1-0:0.2.8"]) > 8
    p1 = _p1_fw(rig)  # P1 (e-MUCS) carries the same identification
    assert p1[1] == before["1-0:0.2.8"] and p1[2] == "1.0.0" and len(p1[3]) == 16
    rig.advance(60)
    e1 = rig.register("1-0:1.8.0")[0]
    assert e1 > 0
    # the public client does not see the image transfer object, nor can it start one
    g = gx(rig, 16)
    try:
        with pytest.raises(GXDLMSException) as e:
            _read(g, 6)
        assert e.value.errorCode in (OBJECT_UNDEFINED, READ_WRITE_DENIED)
        assert _call(g, _it().imageTransferInitiate(g.c, "v1.2.0", len(v2))) in (OBJECT_UNDEFINED, READ_WRITE_DENIED)
    finally:
        g.close()
    # the management client with only its password (LLS, not authenticated APDUs) is refused too
    from gurux_dlms.enums import Authentication
    from peer import Gx, SockIO, gurux_client
    g = Gx(SockIO(rig.dlms_port), gurux_client("wrapper", 1, auth=Authentication.LOW, password=LLS))
    g.connect()
    try:
        with pytest.raises(GXDLMSException) as e:
            _read(g, 6)
        assert e.value.errorCode == READ_WRITE_DENIED
        assert _call(g, _it().imageTransferInitiate(g.c, "v1.2.0", len(v2))) == READ_WRITE_DENIED
    finally:
        g.close()
    g = _mgmt(rig)
    try:
        it = _read(g, 2)
        assert it.imageBlockSize == 512
        nblk = (len(v2) + 511) // 512
        assert nblk >= 4
        assert _call(g, it.imageTransferInitiate(g.c, "v1.2.0", len(v2))) == 0
        half = nblk // 2
        assert _blocks(g, it, v2, 0, half) is None
        # a block past the first missing one is refused; the staging is kept
        assert _blocks(g, it, v2, half + 1, half + 2) == (half + 1, DATA_BLOCK_NUMBER_INVALID)
    finally:
        g.close()  # the connection drops mid-transfer ...
    rig.power_cut()  # ... and the meter loses power: the staging file and image.id survive
    rig.power_restore(off_s=0)
    assert fb.pointer() == ["a", "a", "ok", "0"]
    assert _dlms_cosem_first_missing(rig) == half  # the other peer reads where to go on
    g = _mgmt(rig)
    try:
        assert _read(g, 4).imageFirstNotTransferredBlockNumber == half
        assert _read(g, 6).imageTransferStatus == INITIATED
        it = _read(g, 2)
        assert _call(g, it.imageTransferInitiate(g.c, "v1.2.0", len(v2))) == 0  # same image: resumes
        assert _read(g, 4).imageFirstNotTransferredBlockNumber == half
        assert _blocks(g, it, v2, half - 1) is None  # one repeat, then the rest
        st = _read(g, 3).imageTransferredBlocksStatus
        assert str(st).count("1") == nblk, st
        assert _call(g, it.imageVerify(g.c)) == 0
        assert _read(g, 6).imageTransferStatus == VERIFIED
        info = _read(g, 7).imageActivateInfo
        assert len(info) == 1 and info[0].size == len(v2)
        assert bytes(info[0].identification) == b"v1.2.0"
        assert bytes(info[0].signature) == dict(P.parse(v2)[3])[P.KEY_FIRMWARE]
        assert fb.pointer() == ["a", "a", "ok", "0"]  # verified, not switched
        assert _call(g, it.imageActivate(g.c)) == 0
    finally:
        g.close()
    fb.wait_reset()
    assert fb.pointer() == ["b", "a", "trial", "1"]
    assert rig.register("1-0:1.8.0")[0] >= e1  # saved before the reset
    g = _mgmt(rig)
    try:
        assert _read(g, 6).imageTransferStatus == ACTIVATING  # the trial boot runs
    finally:
        g.close()
    rig.advance(3)
    assert until(lambda: fb.pointer()[2] == "ok", 10)
    assert fb.pointer() == ["b", "b", "ok", "0"]
    after = _ident(rig)
    assert after["0-0:0.2.0"] == "1.2.0" and after["1-0:0.2.8"] == before["1-0:0.2.8"]
    assert _p1_fw(rig)[1:3] == [before["1-0:0.2.8"], "1.2.0"]
    g = _mgmt(rig)
    try:
        assert _read(g, 6).imageTransferStatus == ACTIVATED
    finally:
        g.close()
    e2 = rig.register("1-0:1.8.0")[0]
    rig.advance(3600)
    assert rig.register("1-0:1.8.0")[0] - e2 == pytest.approx(2300, abs=5)  # 2.3 kW for 1 h
    assert len(_events(rig, UPDATE_SWITCHED)) == 1 and len(_events(rig, UPDATE_CONFIRMED)) == 1
    # one DLMS_ACTION event per initiate (2), verify, activate: none per block
    assert len([e for e in rig.query("events") if e[1] == 90 and e[2] == 18]) == 4


def test_tampered_block_fails_verification_nothing_switches(meter, packages):
    rig, fb = meter
    v1, v2 = packages
    end = P.parse(v2)[0]
    at = len(v2) - 10  # a byte of the last file, blocks after the header's
    assert at > end + 512
    bad = bytearray(v2)
    bad[at] ^= 0x20
    bad = bytes(bad)
    g = _mgmt(rig)
    try:
        it = _read(g, 2)
        assert _call(g, it.imageTransferInitiate(g.c, "bad", len(bad))) == 0
        r = _blocks(g, it, bad)
        assert r is not None and r[1] == OTHER_REASON and r[0] == (len(bad) - 1) // 512  # its file's last block
        assert _read(g, 6).imageTransferStatus == VERIFY_FAILED
        assert _call(g, it.imageVerify(g.c)) == OTHER_REASON
        assert _call(g, it.imageActivate(g.c)) == OTHER_REASON
        assert _read(g, 6).imageTransferStatus == VERIFY_FAILED
        assert _read(g, 7).imageActivateInfo == []
    finally:
        g.close()
    time.sleep(2)  # no reset follows
    assert rig.proc.poll() is None
    assert fb.pointer() == ["a", "a", "ok", "0"] and _ident(rig)["0-0:0.2.0"] == "1.0.0"
    rej = _events(rig, UPDATE_REJECTED)
    assert [e[2] for e in rej] == [8]  # R_FILE: a file does not match its hash
    assert not _events(rig, UPDATE_SWITCHED)


def test_key_rotation_over_dlms(meter, packages):
    """A package carrying next_key, pushed over DLMS and confirmed, rotates the firmware key: the
    meter's flash holds the new key, a package signed by the old key is refused at its first block
    (SIGNATURE), the same package signed by the new key verifies."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from host_tools.update.keys import public_hex
    rig, fb = meter
    v1 = packages[0]
    new = Ed25519PrivateKey.generate()
    base = P.parse(v1)[1]
    src = open(os.path.join(P.FW, "meter", "ports", "p1_snapshot.py")).read()
    tree = P.compile_tree("unix_sim", {"meter/ports/p1_snapshot.py": "# 1.3.0\n" + src})
    rot = P.sign(P.build(tree, "unix_sim", "1.3.0", 3, base=base, next_key=public_hex(new)), FW_KEY)
    g = _mgmt(rig)
    try:
        it = _read(g, 2)
        assert _call(g, it.imageTransferInitiate(g.c, "rot", len(rot))) == 0
        assert _blocks(g, it, rot) is None
        assert _call(g, it.imageActivate(g.c)) == 0  # verifies first (not verified yet), switches
    finally:
        g.close()
    fb.wait_reset()
    rig.advance(3)
    assert until(lambda: fb.pointer()[2] == "ok", 10)
    key_file = os.path.join(fb.dir, "fw", "update_key")
    assert until(lambda: os.path.exists(key_file), 5)
    with open(key_file) as f:
        assert f.read().strip() == public_hex(new)
    conf = _events(rig, UPDATE_CONFIRMED)
    assert [e[3] for e in conf] == [int(public_hex(new)[:7], 16)]
    tree4 = P.compile_tree("unix_sim", {"meter/ports/p1_snapshot.py": "# 1.4.0\n" + src})
    unsigned = P.build(tree4, "unix_sim", "1.4.0", 4, base=base)
    by_old, by_new = P.sign(unsigned, FW_KEY), P.sign(unsigned, new)
    g = _mgmt(rig)
    try:
        it = _read(g, 2)
        assert _call(g, it.imageTransferInitiate(g.c, "old", len(by_old))) == 0
        r = _blocks(g, it, by_old)
        assert r is not None and r[1] == OTHER_REASON and r[0] <= (P.parse(by_old)[0] - 1) // 512
        assert _read(g, 6).imageTransferStatus == VERIFY_FAILED
        assert _call(g, it.imageTransferInitiate(g.c, "new", len(by_new))) == 0
        assert _blocks(g, it, by_new) is None
        assert _call(g, it.imageVerify(g.c)) == 0 and _read(g, 6).imageTransferStatus == VERIFIED
    finally:
        g.close()
    assert [e[2] for e in _events(rig, UPDATE_REJECTED)] == [2]  # R_SIGNATURE
    assert fb.pointer() == ["b", "b", "ok", "0"]  # verified only, not activated
