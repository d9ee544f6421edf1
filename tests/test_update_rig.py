"""Firmware update on the rig (issue 18): the unix_sim meter boots from its simulated flash
(host_tools/rig_update.FlashBoot), a signed package goes in over the optical port (the host tool
`python -m host_tools update push`), the meter switches, confirms its trial boot and reports the
new version while the registers continue; a crash on the first boot and a health-check timeout
roll back; power cuts in the upload and in the switch leave old or new firmware, whole."""
import os
import random
import subprocess
import sys
import time

import pytest

from conftest import INTERPRETERS, ROOT
from host_tools.iec_client import IecClient, command_frame
from host_tools.rig import Rig
from host_tools.rig_update import FlashBoot
from host_tools.update import package as P
from host_tools.update import push as U
from test_rig_optical import wait_idle, wait_line_free
from update_support import FW_KEY, KEYS

pytestmark = [pytest.mark.rig,
              pytest.mark.skipif(not os.path.exists(INTERPRETERS["unix"]) or not os.path.exists(P.MPY_CROSS),
                                 reason="interpreters / mpy-cross not built")]
KEY2 = b"update-test level 2 key"
UPDATE_SWITCHED, UPDATE_CONFIRMED, UPDATE_ROLLBACK = 94, 95, 96


@pytest.fixture(scope="module")
def packages():
    v1 = P.sign(P.build(P.compile_tree("unix_sim"), "unix_sim", "1.0.0", 1), FW_KEY)
    src = open(os.path.join(ROOT, "firmware", "meter", "ports", "p1_snapshot.py")).read()
    tree = P.compile_tree("unix_sim", {"meter/ports/p1_snapshot.py": "# 1.1.0\n" + src})
    v2 = P.sign(P.build(tree, "unix_sim", "1.1.0", 2, base=P.parse(v1)[1]), FW_KEY)
    return v1, v2


def _rig(v1, trial_s=20):
    cfg = {"keys": dict(KEYS, optical_key2=KEY2.hex()),
           "optical": {"baud_char": "6", "reaction_ms": 20}, "update": {"trial_s": trial_s}}
    rig = Rig(time_rate=0, config=cfg)
    fb = FlashBoot(rig)
    fb.deploy(v1)
    rig.start()
    rig.set_load(1, 230, 10)
    return rig, fb


def _running(rig):
    with IecClient(rig.optical_port, timeout=5) as c:
        lines = c.readout().lines
    _settle(rig)
    return {ln.split("(")[0]: ln.split("(")[1].rstrip(")") for ln in lines if ":0.2." in ln}


def _push(rig, data):
    with IecClient(rig.optical_port, timeout=10) as c:
        c.program(key=KEY2, level=2)
        crc = U.send_package(c, data)
    return crc


def _settle(rig):
    """The optical session over and the line back at 300 baud before the next client."""
    wait_line_free(rig)
    wait_idle(rig)


def _events(rig, code):
    return [e for e in rig.query("events") if e[1] == code]


def test_push_switch_confirm_registers_continue(packages):
    v1, v2 = packages
    rig, fb = _rig(v1)
    try:
        ids = _running(rig)
        assert ids["0-0:0.2.0"] == "1.0.0"
        legal = ids["1-0:0.2.8"]
        rig.advance(60)
        e1 = rig.register("1-0:1.8.0")[0]
        assert e1 > 0
        path = os.path.join(rig._tmp, "v2.mup")
        with open(path, "wb") as f:
            f.write(v2)
        r = subprocess.run([sys.executable, "-m", "host_tools", "update", "push", rig.optical_port, path],
                           cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, METER_PASSWORD=KEY2.decode()))
        assert r.returncode == 0, r.stderr
        assert "100%" in r.stderr and "ETA" in r.stderr and "accepted" in r.stdout
        fb.wait_reset()
        assert fb.pointer() == ["b", "a", "trial", "1"]
        assert rig.register("1-0:1.8.0")[0] >= e1  # saved before the reset: nothing lost
        rig.advance(3)
        deadline = time.monotonic() + 10
        while fb.pointer()[2] != "ok" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fb.pointer() == ["b", "b", "ok", "0"]
        ids = _running(rig)
        assert ids["0-0:0.2.0"] == "1.1.0" and ids["1-0:0.2.8"] == legal  # legal part unchanged
        assert rig.wait_display(legal)  # ... and shown on the display (line 6)
        assert len(_events(rig, UPDATE_SWITCHED)) == 1 and len(_events(rig, UPDATE_CONFIRMED)) == 1
        e2 = rig.register("1-0:1.8.0")[0]
        rig.advance(3600)
        assert rig.register("1-0:1.8.0")[0] - e2 == pytest.approx(2300, abs=5)  # 2.3 kW for 1 h
        # the new slot is exactly the package: the changed module came over, the rest was copied
        files = fb.slot_files("b")
        man = P.parse(v2)[1]
        assert sorted(files) == sorted([f[0] for f in man["files"]] + ["manifest.json"])
    finally:
        rig.close()


@pytest.mark.parametrize("fault", ["crash", "hang"])
def test_trial_boot_fault_rolls_back(packages, fault):
    v1, v2 = packages
    rig, fb = _rig(v1, trial_s=20)
    try:
        rig.advance(30)
        e1 = rig.register("1-0:1.8.0")[0]
        fb.next_boot_fault(fault)
        _push(rig, v2)
        codes = fb.wait_reset()
        if fault == "crash" and fb.pointer()[2] == "trial":
            codes += fb.wait_reset()  # the trial boot crashed after it was up: powered up again
        if fault == "hang":
            assert fb.pointer() == ["b", "a", "trial", "1"]
            rig.advance(25)  # past trial_s without a healthy check: back to slot a
            codes += fb.wait_reset()
        assert fb.pointer() == ["a", "a", "ok", "0"], (codes, rig.logs[-10:])
        assert _running(rig)["0-0:0.2.0"] == "1.0.0"
        rb = _events(rig, UPDATE_ROLLBACK)
        assert [e[2] for e in rb] == [1 if fault == "crash" else 2]
        assert rig.register("1-0:1.8.0")[0] >= e1
    finally:
        rig.close()


def test_power_cuts_in_upload_and_switch(packages):
    v1, v2 = packages
    rig, fb = _rig(v1)
    rnd = random.Random(1818)
    try:
        rig.advance(30)
        e1 = rig.register("1-0:1.8.0")[0]
        # a cut at a random byte of the upload: the firmware is untouched, the push resumes
        n = rnd.randrange(200, len(v2) - 200)
        with IecClient(rig.optical_port, timeout=10) as c:
            c.program(key=KEY2, level=2)
            fb.stage_partial(c, v2, n)
            c.bye()
        _settle(rig)
        rig.power_cut()
        rig.power_restore(off_s=0)
        assert fb.pointer() == ["a", "a", "ok", "0"] and _running(rig)["0-0:0.2.0"] == "1.0.0"
        with IecClient(rig.optical_port, timeout=10) as c:
            c.program(key=KEY2, level=2)
            assert U.staged(c)[0] == n
            c.bye()
        _settle(rig)
        # cuts at random moments of the switch (after the commit's write went out)
        for delay in (rnd.uniform(0, 0.05), rnd.uniform(0.0, 0.02)):
            with IecClient(rig.optical_port, timeout=10) as c:
                c.program(key=KEY2, level=2)
                crc = U.send_package(c, v2, commit=False)  # resumes what survived
                c.ser.write(command_frame("W1", "%s(%08X)" % (U.OBJ_COMMIT, crc)))  # no wait for the ACK
                time.sleep(delay)
                rig.power_cut()
            rig.power_restore(off_s=0)
            p = fb.pointer()
            ver = _running(rig)["0-0:0.2.0"]
            assert (p[0], ver) in (("a", "1.0.0"), ("b", "1.1.0")), (p, ver)
            man = P.parse(v1 if p[0] == "a" else v2)[1]
            files = fb.slot_files(p[0])
            assert sorted(files) == sorted([f[0] for f in man["files"]] + ["manifest.json"])
            if p[0] == "b":
                break
        assert rig.register("1-0:1.8.0")[0] >= e1
    finally:
        rig.close()
