"""Firmware update service inside MicroPython (64-bit and 32-bit): tampered packages are refused
before the switch with a reason and an event; the trial boot confirms, or rolls back after a
crash or a health-check timeout; power cuts at 50 random points of an upload and of a switch
leave the old or the new firmware, whole, never a mix (and the upload resumes).
Packages are built and signed on the host (host_tools/update, `cryptography`)."""
import json
import os
import random

import pytest

from conftest import INTERPRETERS, run_mp
from update_support import KEYS, MET_KEY, OTHER_KEY, P, flash_with, package, small_tree

pytestmark = pytest.mark.skipif(not os.path.exists(INTERPRETERS["unix"]),
                                reason="MicroPython interpreters not built")
R_FORMAT, R_SIGNATURE, R_BOARD, R_VERSION, R_DOWNGRADE, R_LEGAL, R_LEGAL_KEY, R_FILE = 1, 2, 3, 4, 5, 6, 7, 8
UPDATE_REJECTED, UPDATE_SWITCHED, UPDATE_CONFIRMED, UPDATE_ROLLBACK, LEGAL_CHANGED = 93, 94, 95, 96, 97


def _run(interp, tmp_path, job, packages):
    tmp_path = str(tmp_path)
    os.makedirs(tmp_path, exist_ok=True)
    paths = {}
    for k, data in packages.items():
        paths[k] = os.path.join(tmp_path, k + ".mup")
        with open(paths[k], "wb") as f:
            f.write(data)
    flash = os.path.join(tmp_path, "flash")
    flash_with(package(small_tree(), "1.0.0", 5), flash)
    work = os.path.join(tmp_path, "work")
    os.makedirs(work)
    job = dict(job, packages=paths, flash=flash, work=work, keys=KEYS, old="1.0.0",
               want={"board": "unix_sim", "micropython": "1.25.0", "mpy": "6.3"})
    jp = os.path.join(tmp_path, "job.json")
    with open(jp, "w") as f:
        json.dump(job, f)
    p = run_mp(interp, [os.path.join(os.path.dirname(__file__), "mp", "upd_driver.py"), jp], timeout=120)
    assert "@@END" in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]
    return [json.loads(ln[4:]) for ln in p.stdout.splitlines() if ln.startswith("@@R ")]


def _tampered():
    good = package(small_tree(b"2"), "1.1.0", 6)
    end, man, mbytes, sigs, body = P.parse(good)
    flipped = bytearray(good)
    flipped[end + 100] ^= 1  # a byte of the first file
    badsig = bytearray(good)
    badsig[10 + 20] ^= 1  # a byte of the firmware signature
    return {
        "changed_file": bytes(flipped),
        "bad_signature": bytes(badsig),
        "other_key": package(small_tree(b"2"), "1.1.0", 6, keys=(OTHER_KEY,)),
        "unsigned": package(small_tree(b"2"), "1.1.0", 6, keys=()),
        "wrong_board": package(small_tree(b"2"), "1.1.0", 6, board="esp32"),
        "wrong_mpy": package(small_tree(b"2"), "1.1.0", 6, mp=("1.25.0", "6.2")),
        "downgrade": package(small_tree(b"2"), "0.9.0", 4),
        "legal_no_flag": package(small_tree(b"2", b"L2"), "1.1.0", 6),
        "legal_no_key": package(small_tree(b"2", b"L2"), "1.1.0", 6, legal_changed=True),
        "legal_ok": package(small_tree(b"2", b"L2"), "1.1.0", 6, legal_changed=True, metrology=True),
        # the manifest's legal checksum lies about the files (signed, flagged): refused
        "legal_lie": P.sign(P.sign(P.with_manifest(good, dict(man, legal=dict(
            man["legal"], checksum="0" * 16))), __import__("update_support").FW_KEY), MET_KEY, P.KEY_METROLOGY),
    }


WANT = {"changed_file": (R_FILE, "FILE"), "bad_signature": (R_SIGNATURE, "SIGNATURE"),
        "other_key": (R_SIGNATURE, "SIGNATURE"), "unsigned": (R_FORMAT, "FORMAT"),
        "wrong_board": (R_BOARD, "BOARD"), "wrong_mpy": (R_VERSION, "VERSION"),
        "downgrade": (R_DOWNGRADE, "DOWNGRADE"), "legal_no_flag": (R_LEGAL, "LEGAL"),
        "legal_no_key": (R_LEGAL_KEY, "LEGAL"), "legal_lie": (R_LEGAL, "LEGAL")}


@pytest.mark.parametrize("interp", ["unix", "unix32"])
def test_tampered_packages_refused_before_switch(interp, tmp_path):
    pk = _tampered()
    res = {r["case"]: r for r in _run(interp, tmp_path, {"refuse": list(pk)}, pk)}
    for name, (code, word) in WANT.items():
        r = res[name]
        assert r["reason"] and r["reason"].startswith(word), (name, r)
        assert r["last_error"].startswith(word), (name, r)
        assert [e[1:3] for e in r["events"]] == [[UPDATE_REJECTED, code]], (name, r)
        assert r["pointer"] == ["a", "a", "ok", 0], (name, r)  # nothing switched
        assert not r["stage"] and "b" not in r["files"], (name, r)  # staging removed, no slot b
    ok = res["legal_ok"]
    assert ok["reason"] is None and ok["pointer"] == ["b", "a", "trial", 0], ok
    assert [e[1] for e in ok["events"]] == [UPDATE_SWITCHED]


@pytest.mark.parametrize("interp", ["unix", "unix32"])
def test_trial_boot_confirms_or_rolls_back(interp, tmp_path):
    pk = {"good": package(small_tree(b"2", b"L2"), "1.1.0", 6, legal_changed=True, metrology=True)}
    res = _run(interp, tmp_path, {"trial": ["ok", "hang", "crash"]}, pk)
    ok, hang, crash = res
    assert ok["steps"] == [[1001, "confirmed"]] and ok["version"] == "1.1.0" and ok["ok"]
    assert ok["pointer"] == ["b", "b", "ok", 0] and ok["floor"] == 6
    codes = [e[1] for e in ok["events"]]
    assert UPDATE_CONFIRMED in codes
    lc = [e for e in ok["events"] if e[1] == LEGAL_CHANGED]
    old = int(P.legal_checksum(small_tree())[:7], 16)
    new = int(P.legal_checksum(small_tree(b"2", b"L2"))[:7], 16)
    assert [e[2:] for e in lc] == [[old, new]]
    # health never passes: rolled back at trial_s (30 s) to the old firmware
    assert hang["steps"] == [[1030, "rollback"]] and hang["version"] == "1.0.0" and hang["ok"]
    assert hang["pointer"] == ["a", "a", "ok", 0] and hang["floor"] == 0  # not raised
    # crash before confirming: the next start boots the old firmware and logs the rollback
    assert crash["version"] == "1.0.0" and crash["ok"] and crash["pointer"] == ["a", "a", "ok", 0]
    assert [e[1:3] for e in crash["events"]] == [[UPDATE_ROLLBACK, 1]]


@pytest.mark.parametrize("interp", ["unix", "unix32"])
def test_power_cuts_upload_and_switch(interp, tmp_path):
    pk = {"good": package(small_tree(b"2"), "1.1.0", 6)}
    m = _run(interp, tmp_path / "m", {"measure": True}, pk)[0]
    rnd = random.Random(18 + len(interp))
    cuts = sorted(rnd.sample(range(1, m["upload"]), 25) + rnd.sample(range(m["upload"], m["total"]), 25))
    # and every unit of the switch's end: the pointer's bytes, its rename, the staging removal
    cuts += list(range(m["total"] - 16, m["total"]))
    res = _run(interp, tmp_path / "c", {"cuts": cuts}, pk)
    assert len(res) == 66
    switched_at_boot = 0
    for r in res:
        assert r["cut"], r  # every point is inside the upload or the switch
        assert r["boot_ok"] and r["boot"] in ("1.0.0", "1.1.0"), r  # whole, old or new
        assert r["end_ok"] and r["end"] == "1.1.0", r  # the resumed push always gets there
        switched_at_boot += r["boot"] == "1.1.0"
        if r["budget"] < m["upload"]:
            assert r["boot"] == "1.0.0", r  # a cut in the upload never changes the firmware
    assert 0 < switched_at_boot < 30  # cuts fall before and after the pointer's rename


@pytest.mark.parametrize("interp", ["unix", "unix32"])
def test_key_rotation_by_signed_manifest(interp, tmp_path):
    """A manifest signed by the current firmware key carries next_key: once that firmware is
    confirmed the meter takes only the new key (the old one is retired); a rollback keeps the old
    key; a package signed by an unknown key is refused either way."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from host_tools.update.keys import public_hex
    from update_support import FW_KEY
    new = Ed25519PrivateKey.generate()
    new_pub = public_hex(new)

    def pkg(tag, version, counter, key, next_key=None):
        data = P.build(small_tree(tag), "unix_sim", version, counter, micropython="1.25.0", mpy="6.3",
                       next_key=next_key)
        return P.sign(data, key)

    pk = {"rotate": pkg(b"2", "1.1.0", 6, FW_KEY, new_pub), "by_old": pkg(b"3", "1.2.0", 7, FW_KEY),
          "by_unknown": pkg(b"3", "1.2.0", 7, OTHER_KEY), "by_new": pkg(b"3", "1.2.0", 7, new)}
    ok, hang = _run(interp, tmp_path, {"rotate": [True, False]}, pk)
    assert ok["step"] == "confirmed" and ok["key"] == new_pub and ok["cut_restored"] is True, ok
    conf = [e for e in ok["events"] if e[1] == UPDATE_CONFIRMED]
    assert [e[3] for e in conf] == [int(new_pub[:7], 16)]
    assert ok["res"]["by_old"].startswith("SIGNATURE") and ok["res"]["by_unknown"].startswith("SIGNATURE")
    assert ok["res"]["by_new"] is None and ok["version"] == "1.2.0"
    # the trial never confirmed: rolled back, the key not rotated, the old key still signs
    assert hang["step"] == "rollback" and hang["key"] is None, hang
    assert hang["res"]["by_unknown"].startswith("SIGNATURE")
    assert hang["res"]["by_old"] is None and hang["version"] == "1.2.0"
    assert hang["res"]["by_new"].startswith("SIGNATURE")  # after by_old switched: new key unknown


@pytest.mark.parametrize("interp", ["unix", "unix32"])
def test_image_transfer_object_on_the_update_service(interp, tmp_path):
    """Image transfer (IC 18, services/cosem_image.py) methods as the DLMS server calls them:
    refusals with their action-result codes, blocks in order only, a resume after a power cut at
    the first missing block, verify, activate (the switch), the status across the reboot and the
    trial's confirmation, a tampered block failing the image with nothing switched."""
    TEMPORARY_FAILURE, READ_WRITE_DENIED, TYPE_UNMATCHED, DATA_BLOCK_NUMBER_INVALID, OTHER_REASON = 2, 3, 12, 19, 250
    good = package(small_tree(b"2"), "1.1.0", 6)
    nb = (len(good) + 511) // 512
    assert nb >= 6
    bad = bytearray(package(small_tree(b"3"), "1.2.0", 7))
    bad[-10] ^= 0x40  # the last file: refused at the package's last block
    good2 = package(small_tree(b"4"), "1.3.0", 8)
    (r,) = _run(interp, tmp_path, {"image": True}, {"good": good, "bad_block": bytes(bad), "good2": good2})
    st = {x[0]: x[1:] for x in r["steps"]}
    assert st["before_init"] == [TEMPORARY_FAILURE, 0]
    assert st["bad_params"] == [TYPE_UNMATCHED, TYPE_UNMATCHED, OTHER_REASON]
    assert st["disabled"] == [READ_WRITE_DENIED]
    assert st["init"] == [0, 1, 0]
    blocks, first, status, bits = st["blocks"]
    assert blocks == [0, 0, 0, 0, DATA_BLOCK_NUMBER_INVALID, TYPE_UNMATCHED, OTHER_REASON]
    assert first == 3 and status == 1 and bits == nb
    assert st["resumed"] == [1, 3, 0, 3]
    res, all_in, nbits, hexbits = st["rest"]
    assert res == [0] * (nb - 3) and all_in and nbits
    want = (((1 << nb) - 1) << ((8 - nb % 8) % 8)).to_bytes((nb + 7) // 8, "big").hex()
    assert hexbits == want  # bit 0 = block 0, the first (most significant) bit
    assert st["verify"] == [0, 3, len(good)]
    assert st["activate"] == [0, 5, True, ["b", "a", "trial", 0]]
    assert st["trial"] == [5, "1.1.0"] and st["confirmed"] == [6]
    assert st["bad_init"] == [0]
    res, status, verify, activate, pointer, stage, events = st["bad"]
    assert res[:-1] == [0] * (len(res) - 1) and res[-1] == OTHER_REASON
    assert status == 4 and verify == OTHER_REASON and activate == OTHER_REASON
    assert pointer == ["b", "b", "ok", 0] and stage is False
    assert [UPDATE_REJECTED, R_FILE] in events and [UPDATE_SWITCHED, 6] not in events
    assert st["restart"] == [0, 1, 0, 0]
    assert st["rollback"] == [True, 5, "rollback", 7, ["b", "b", "ok", 0]]
