"""`make sim` as a lab instrument (issue 16): state kept across runs in its state dir."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_sim(n_status, **env):
    """Run host_tools.sim until it printed n_status status lines; returns (header lines, status
    lines). Stops it with SIGTERM (its clean stop)."""
    e = dict(os.environ, P1_PORT="0", DLMS_PORT="0", SIM_STATUS_S="0.5", **env)
    p = subprocess.Popen([sys.executable, "-m", "host_tools.sim"], stdout=subprocess.PIPE, text=True,
                         env=e, cwd=ROOT)
    head, status = [], []
    try:
        while len(status) < n_status:
            line = p.stdout.readline()
            assert line, "sim ended early: %r" % head
            (status if line.startswith("status: ") else head).append(line.rstrip("\n"))
    finally:
        p.terminate()
        p.wait(timeout=15)
    return head, status


def energy(status_line):
    """import + export in kWh from a status line."""
    return sum(float(re.search(r" %s=([0-9.]+)" % k, status_line).group(1)) for k in ("import", "export"))


def test_sim_state_survives_restart_and_fresh_start_clears_it(tmp_path):
    state = str(tmp_path / "sim")
    _, s1 = run_sim(3, SIM_RATE="3600", SIM_STATE_DIR=state)
    assert os.path.exists(os.path.join(state, "flash.bin"))
    assert os.path.exists(os.path.join(state, "meter.log"))
    e1 = energy(s1[-1])
    assert e1 > 0.05  # over an hour of household load at 3600x
    _, s2 = run_sim(1, SIM_RATE="3600", SIM_STATE_DIR=state)
    assert energy(s2[0]) >= e1  # registers continue where the last run stopped
    _, s3 = run_sim(1, SIM_RATE="3600", SIM_STATE_DIR=state, SIM_FRESH="1")
    assert energy(s3[0]) < energy(s2[0]) - 0.05  # fresh: back from zero


def p1_telegrams_for(rig, seconds):
    """Every telegram the P1 endpoint sends over `seconds` real seconds, parsed by dsmr-parser
    (checksums checked)."""
    import socket
    import time
    from dsmr_parser import telegram_specifications
    from dsmr_parser.clients.telegram_buffer import TelegramBuffer
    from dsmr_parser.parsers import TelegramParser
    buf = TelegramBuffer()
    parser = TelegramParser(telegram_specifications.V5, apply_checksum_validation=True)
    out = []
    with socket.create_connection(("127.0.0.1", rig.p1_port), timeout=5) as s:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            for line in data.decode("ascii").splitlines(keepends=True):
                buf.append(line)
            out += [parser.parse(t) for t in buf.get_all()]
    return out


def test_p1_paced_in_real_time_at_3600x():
    """Issue 16, defect 2: at 3600x a P1 port still sends once per real second (DSMR 5), each
    telegram with the meter's time at its moment (about an hour apart)."""
    from host_tools.rig import Rig
    with Rig(time_rate=3600, p1_pace="real") as rig:
        rig.set_load(1, 230.0, 5.0, 1.0)
        tgs = p1_telegrams_for(rig, 3.0)
    assert 2 <= len(tgs) <= 4, len(tgs)
    stamps = [t.P1_MESSAGE_TIMESTAMP.value for t in tgs]
    for a, b in zip(stamps, stamps[1:]):
        assert 1800 <= (b - a).total_seconds() <= 7200, stamps
    e = [t.ELECTRICITY_USED_TARIFF_1.value + t.ELECTRICITY_USED_TARIFF_2.value for t in tgs]
    assert e[-1] - e[0] >= 1  # 1.15 kW over about (n-1) virtual hours: the state at each moment


def test_dead_firmware_reported_at_once_with_its_log():
    """Issue 16, defect 5: a firmware process that dies is reported at once (not after the 30 s
    command timeout or the 20 s boot timeout), with the tail of the meter log."""
    import time
    import pytest
    from host_tools.rig import Rig, RigError
    with Rig(time_rate=0) as rig:
        rig.proc.kill()
        t0 = time.monotonic()
        with pytest.raises(RigError) as e:
            rig.registers()
        assert time.monotonic() - t0 < 3
        assert "exited" in str(e.value) or "went away" in str(e.value)
    rig = Rig(time_rate=0, heap="4K")  # too small to even import the firmware: dies at boot
    t0 = time.monotonic()
    try:
        with pytest.raises(RigError) as e:
            rig.start()
    finally:
        rig.close()
    assert time.monotonic() - t0 < 5
    assert "exited" in str(e.value) and "MemoryError" in str(e.value), str(e.value)


def test_optical_cli_locked_says_for_how_long():
    """Issue 16, defect 5: `LOCKED` from the CLI says what it means and for how long."""
    import json
    from host_tools.rig import Rig
    with open(os.path.join(ROOT, "host_tools", "sim_lab_credentials.json")) as f:
        config = json.load(f)
    config["optical"] = {"max_fails": 1}
    with Rig(time_rate=0, config=config) as rig:
        runs = [subprocess.run([sys.executable, "-m", "host_tools", "optical", "get", rig.optical_port,
                                "0.9.1", "--password", "wrong-pw"], capture_output=True, text=True,
                               timeout=60, cwd=ROOT) for _ in range(2)]
    assert runs[0].returncode == 1 and "PASSWORD" in runs[0].stderr, runs[0].stderr
    assert "locked" not in runs[0].stderr
    err = runs[1].stderr
    assert runs[1].returncode == 1 and "LOCKED" in err, err
    # the meter's answer carries the seconds left (ERROR:LOCKED <s>), the CLI says them
    assert re.search(r"locked for another (5\d|60) s", err) and "Traceback" not in err, err


def test_optical_read_json_is_one_object_of_the_datasets():
    """Issue 16: `optical read --json` for scripts: one JSON object, the datasets as the meter sent
    them, checked against the meter's registers over the rig's link."""
    import json
    from host_tools.rig import Rig
    with Rig(time_rate=0) as rig:
        rig.set_load(1, 230.0, 10.0, 1.0)
        rig.advance(3600)
        regs = rig.registers()
        r = subprocess.run([sys.executable, "-m", "host_tools", "optical", "read", rig.optical_port, "--json"],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip().splitlines()) == 1
    obj = json.loads(r.stdout)
    assert obj["identification"] == "/%s%s%s" % (obj["manufacturer"], obj["baud_char"], obj["ident"])
    ds = dict((d["address"], d) for d in obj["datasets"])
    mag, exp, unit = regs["1-0:1.8.0"]
    assert mag == 2300 and ds["1-0:1.8.0"]["unit"] == unit
    assert round(float(ds["1-0:1.8.0"]["value"]) * 10 ** -exp) == mag
    assert ds["0-0:1.0.0"]["unit"] is None
