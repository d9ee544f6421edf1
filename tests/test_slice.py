"""The foundation's vertical slice, end to end: simulated AFE -> integer energy register -> DSMR 5
P1 telegram on the rig's TCP endpoint -> dsmr-parser (checksum validated) -> exact Wh growth; then a
power cut and restore."""
import math
import os

import pytest

from host_tools.rig import Rig
from p1_reader import P1Reader


def energy_wh(telegram):
    return int(telegram.ELECTRICITY_USED_TARIFF_1.value * 1000) + int(
        telegram.ELECTRICITY_USED_TARIFF_2.value * 1000)


@pytest.mark.parametrize("interp", ["unix", "unix32"])
def test_p1_energy_grows_exactly(interp):
    with Rig(time_rate=0, interp=interp) as rig, P1Reader(rig.p1_url) as p1:
        rig.set_load(1, 230.0, 10.0, 1.0)  # 2300 W
        rig.advance(1)
        t0, _ = p1.next()
        e0 = energy_wh(t0)
        assert e0 == math.floor(sum(rig.truth()[1]))
        rig.advance(3600)
        t1, raw = p1.next()
        assert raw.endswith("\r\n") and "\r\n" in raw
        e1 = energy_wh(t1)
        # Exactly the energy the load delivered over the advanced virtual time, to the Wh.
        truth = rig.truth()[1][0]
        assert e1 == math.floor(truth)
        assert e1 - e0 in (2300, 2299, 2301) and e1 - e0 == math.floor(truth) - e0


def test_power_cut_continues_and_never_goes_backward():
    with Rig(time_rate=0) as rig, P1Reader(rig.p1_url) as p1:
        rig.set_load(1, 230.0, 10.0, 1.0)
        rig.advance(1800)
        before = rig.registers()["1-0:1.8.0"][0]
        rig.power_cut(warn=True)  # power-fail signal: the meter saves everything
        rig.power_restore()
        after = rig.registers()["1-0:1.8.0"][0]
        assert after == before
        rig.advance(1800)
        before2 = rig.registers()["1-0:1.8.0"][0]
        assert before2 > after
        rig.power_cut()  # hard cut: at most the unsaved part is lost, never below the saved value
        rig.power_restore()
        after2 = rig.registers()["1-0:1.8.0"][0]
        assert after <= after2 <= before2
        p1.drain()
        rig.advance(1)
        t, _ = p1.next()
        assert energy_wh(t) >= after2


def test_rig_stops_everything_it_started():
    import os
    import socket
    with Rig(time_rate=0) as rig:
        pid = rig.proc.pid
        port = rig.p1_port
        pty = rig.optical_port
        assert os.path.exists("/proc/%d" % pid)
        tmp = rig._tmp
    assert not os.path.exists("/proc/%d" % pid) or open("/proc/%d/stat" % pid).read().split()[2] == "Z"
    assert not os.path.exists(tmp)
    s = socket.socket()
    try:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # the P1 endpoint is closed
    finally:
        s.close()
    with open("/proc/self/fd/0"):  # (our own fds still fine)
        pass
    assert pty.startswith("/dev/pts/")


def test_sim_prints_endpoints_and_status(tmp_path):
    """`make sim`'s output contract: the endpoint lines, then status lines."""
    import json
    import re
    import subprocess
    import sys
    import time
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dport = s.getsockname()[1]
    s.close()
    env = dict(os.environ, P1_PORT="0", SIM_STATUS_S="0.5", DLMS_PORT=str(dport),
               SIM_STATE_DIR=str(tmp_path / "state"))
    p = subprocess.Popen([sys.executable, "-m", "host_tools.sim"], stdout=subprocess.PIPE, text=True,
                         env=env, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        lines = [p.stdout.readline().strip() for _ in range(7)]
        # the web console line (on by default): its page and API answer on that URL
        import urllib.request
        cm = re.fullmatch(r"console: (http://127\.0\.0\.1:\d+/) \(token (\S+); SIM_CONSOLE=0 disables\)", lines[5])
        assert cm, lines[5]
        with urllib.request.urlopen(cm.group(1) + "api/state", timeout=10) as r:
            assert json.load(r)["powered"] is True
        # the lab credentials printed at start log in to the optical port (issue 16, defect 1)
        creds = lines[3].split()[1]
        with open(creds) as f:
            pw1 = bytes.fromhex(json.load(f)["keys"]["optical_pw1"]).decode()
        r = subprocess.run([sys.executable, "-m", "host_tools", "optical", "get", lines[1].split()[1], "0.9.1",
                            "--password", pw1], capture_output=True, text=True, timeout=60,
                           cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    finally:
        p.terminate()
        p.wait(timeout=10)
    assert lines[0].startswith("p1: socket://127.0.0.1:")
    assert lines[1].startswith("optical: /dev/pts/")
    assert lines[2] == "dlms: tcp://127.0.0.1:%d" % dport
    assert lines[3].startswith("credentials: /") and "METER_SIM_CONFIG" in lines[3]
    assert r.returncode == 0 and r.stdout.startswith("0.9.1("), (r.stdout, r.stderr)
    assert lines[4] == "state: %s (registers and meter log kept across runs; SIM_FRESH=1 starts fresh)" % (
        tmp_path / "state")
    # the status line: units, time zone, tariff=, and no zeros line before the loads start
    m = re.fullmatch(r"status: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d (CET|CEST) P=(-?\d+\.\d{3})kW L1=(-?\d+\.\d{3})kW "
                     r"L2=(-?\d+\.\d{3})kW L3=(-?\d+\.\d{3})kW import=\d+\.\d{3}kWh export=\d+\.\d{3}kWh "
                     r"tariff=[12]", lines[6])
    assert m, lines[6]
    p_kw, phases = float(m.group(2)), [float(m.group(i)) for i in (3, 4, 5)]
    assert any(phases) and abs(p_kw - sum(phases)) < 0.003, lines[6]
