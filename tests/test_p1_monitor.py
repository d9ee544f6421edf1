"""`python -m host_tools p1 monitor` against a loopback TCP server playing a P1 dongle.

The telegrams are the firmware's own (built in MicroPython); one is corrupted to check that the
CRC error is shown plainly. The server binds to 127.0.0.1 only and everything started here is
stopped here.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import run_mp, ROOT

KEY = bytes(range(0x40, 0x50))
T = 139_000_000  # meter seconds: 2024-05-27 (summer time)


def build(cases):
    p = run_mp("unix", ["tests/mp/mpt_p1_driver.py"], heap="512K",
               input_data="".join(json.dumps(c) + "\n" for c in cases))
    out = p.stdout.split()
    assert p.returncode == 0 and len(out) == len(cases) and not any(o.startswith("ERR") for o in out), p
    return [bytes.fromhex(o) for o in out]


def snap(t, wh):
    return {"t": t, "regs": [["1-0:1.8.1", "kWh", -3, wh], ["1-0:1.7.0", "kW", -3, 1234]],
            "sub": [[1, 3, "G4711", t - 300, 12785123, -3, "m3"]], "tariff": 2, "text": b"Hi".hex()}


class Dongle:
    """One-connection TCP server: sends `chunks` (with small pauses), then idles until closed."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.srv.settimeout(30)
        self.port = self.srv.getsockname()[1]
        self.stop = threading.Event()
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        with conn:
            time.sleep(0.3)  # pyserial's socket:// open() flushes what arrived before it returned
            for c in self.chunks:
                for i in range(0, len(c), 97):  # arrive in pieces, as from a UART bridge
                    conn.sendall(c[i:i + 97])
                    time.sleep(0.001)
                time.sleep(0.02)
            conn.settimeout(0.1)
            while not self.stop.is_set():
                try:
                    if conn.recv(64) == b"":
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break

    def close(self):
        self.stop.set()
        self.srv.close()
        self.th.join(5)


@pytest.fixture
def dongle():
    made = []

    def make(chunks):
        d = Dongle(chunks)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "host_tools", "p1", "monitor"] + list(args), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_monitor_shows_values_and_a_plain_crc_error(dongle):
    a, b, c = build([{"profile": "dsmr5", "config": {"equipment_id": "E0047"}, "snap": snap(T + i, 123456789 + i)}
                     for i in range(3)])
    bad = bytearray(b)
    i = bad.index(b"1-0:1.8.1(") + 12
    bad[i] = ord("9") if bad[i] != ord("9") else ord("8")
    d = dongle([b"\x00garbage", a, bytes(bad), c])
    r = cli("socket://127.0.0.1:%d" % d.port, "--count", "3", "--timeout", "20")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Traceback" not in r.stderr
    lines = out.splitlines()
    crc = [ln for ln in lines if "CRC error" in ln]
    assert len(crc) == 1 and crc[0].startswith("#2 CRC error: telegram says %s, computed " % b[-6:-2].decode()), crc
    assert "ELECTRICITY_USED_TARIFF_1" in out
    assert "123456.789 kWh" in out and "123456.791 kWh" in out
    assert "123456.790 kWh" not in out  # the corrupted telegram is not decoded
    assert "CURRENT_ELECTRICITY_USAGE" in out and "1.234 kW" in out
    assert "M-Bus channel 1" in out and "12785.123 m3" in out and "G4711" in out
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo
    loc = (datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=T)).astimezone(ZoneInfo("Europe/Amsterdam"))
    assert loc.strftime("%Y-%m-%d %H:%M:%S (S)") in out and '"E0047"' in out
    assert "3 telegrams, 2 decoded, 1 CRC errors" in r.stderr


def test_monitor_decrypts_smarty_and_reports_a_wrong_key(dongle):
    cfg = {"key": KEY.hex(), "system_title": b"SAG12345".hex()}
    frames = build([{"profile": "smarty", "config": cfg, "snap": snap(T, 4242000), "fc": 77},
                    {"profile": "smarty", "config": cfg, "snap": snap(T + 10, 4242500), "fc": 78}])
    if not frames:
        pytest.skip("no smarty frames")
    d = dongle(frames)
    r = cli("socket://127.0.0.1:%d" % d.port, "--profile", "smarty", "--key", KEY.hex(), "--count", "2",
            "--timeout", "20")
    assert r.returncode == 0, r.stderr
    assert "frame counter 77" in r.stdout and "frame counter 78" in r.stdout
    assert "ELECTRICITY_IMPORTED_TOTAL" in r.stdout and "4242.500 kWh" in r.stdout
    assert KEY.hex() not in r.stdout.lower() + r.stderr.lower()
    d = dongle(frames[:1])
    r = cli("socket://127.0.0.1:%d" % d.port, "--key", "00" * 16, "--count", "1", "--timeout", "20")
    assert r.returncode == 0
    assert "#1 decryption failed: authentication failed (wrong --key or --auth-key?)" in r.stdout


def test_monitor_stops_cleanly_on_ctrl_c(dongle):
    (a,) = build([{"profile": "dsmr5", "config": {}, "snap": snap(T, 1)}])
    d = dongle([a])
    # A background job (`make test &`) inherits SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler; reset it in the child so the test does not depend on its launcher.
    p = subprocess.Popen([sys.executable, "-m", "host_tools", "p1", "monitor", "socket://127.0.0.1:%d" % d.port],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = p.stdout.readline()
        assert first.startswith("#1 dsmr5"), first
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "Traceback" not in err and "1 telegrams, 1 decoded" in err


def test_standalone_entry_point_and_bad_port():
    r = subprocess.run([sys.executable, os.path.join("host_tools", "cli_p1.py"), "monitor", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--auth-key" in r.stdout
    r = cli("/dev/does-not-exist-p1", "--count", "1")
    assert r.returncode == 1 and "cannot open" in r.stderr
    r = cli("socket://127.0.0.1:9", "--key", "abc", "--count", "1")
    assert r.returncode != 0 and "32 hex digits" in r.stderr


def test_framer_handles_noise_split_and_both_kinds():
    sys.path.insert(0, ROOT)
    from host_tools.cli_p1 import Framer
    (a,) = build([{"profile": "dsmr5", "config": {}, "snap": snap(T, 5)}])
    body = b"\x30\x00\x00\x00\x01" + b"/x!" + bytes(14)
    frame = b"\xdb\x08SAG12345\x82" + len(body).to_bytes(2, "big") + body
    f = Framer()
    got = []
    data = b"\xff\xfe" + a[:10] + b"" + a[10:] + frame + b"junk" + a
    for i in range(0, len(data), 7):
        got += f.feed(data[i:i + 7])
    assert got == [("plain", a), ("frame", frame), ("plain", a)]
    assert f.noise == 6
    # a telegram cut short by the next one is dropped, not glued to it
    f = Framer()
    assert f.feed(a[:200] + a) == [("plain", a)]


def test_count_is_exact_when_one_read_holds_several_telegrams():
    import io
    sys.path.insert(0, ROOT)
    from host_tools.cli_p1 import Monitor
    tgs = build([{"profile": "dsmr5", "config": {}, "snap": snap(T + i, 1000 + i)} for i in range(5)])
    out = io.StringIO()
    m = Monitor("dsmr5", out=out)
    m.feed(b"".join(tgs), 3)
    heads = [ln for ln in out.getvalue().splitlines() if ln.startswith("#")]
    assert m.n == 3 and [h.split()[0] for h in heads] == ["#1", "#2", "#3"], heads


def test_silent_port_is_reported_and_missing_url_scheme_gets_a_hint():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)  # the kernel completes the connection; nothing is ever sent
    try:
        r = cli("socket://127.0.0.1:%d" % srv.getsockname()[1], "--timeout", "7")
    finally:
        srv.close()
    assert r.returncode == 3 and "nothing received on" in r.stderr and "still waiting" in r.stderr, r.stderr
    r = cli("127.0.0.1:9", "--count", "1")
    assert r.returncode == 1 and "hint: a network dongle needs a URL: socket://127.0.0.1:9" in r.stderr, r.stderr


def test_monitor_json_one_object_per_telegram(dongle):
    a, b, c = build([{"profile": "dsmr5", "config": {}, "snap": snap(T + i, 123456789 + i)} for i in range(3)])
    bad = bytearray(b)
    i = bad.index(b"1-0:1.8.1(") + 12
    bad[i] = ord("9") if bad[i] != ord("9") else ord("8")
    d = dongle([a, bytes(bad), c])
    r = cli("socket://127.0.0.1:%d" % d.port, "--count", "3", "--timeout", "20", "--json")
    assert r.returncode == 0, r.stderr
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [o["n"] for o in objs] == [1, 2, 3]
    assert "CRC error" in objs[1]["error"] and "objects" not in objs[1]
    for o, wh in ((objs[0], 123456789), (objs[2], 123456791)):
        assert o["profile"] == "dsmr5" and o["header"].startswith("/") and len(o["crc"]) == 4
        t1 = o["objects"]["ELECTRICITY_USED_TARIFF_1"]
        assert t1["unit"] == "kWh" and round(t1["value"] * 1000) == wh
        assert o["objects"]["CURRENT_ELECTRICITY_USAGE"] == {"value": 1.234, "unit": "kW"}
        mbus = o["objects"]["MBUS_DEVICES"]
        assert len(mbus) == 1 and mbus[0]["channel"] == 1
    from datetime import datetime, timedelta, timezone
    ts = datetime.fromisoformat(objs[0]["objects"]["P1_MESSAGE_TIMESTAMP"]["value"])
    assert ts == datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=T)
