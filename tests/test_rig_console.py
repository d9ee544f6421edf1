"""The web console's HTTP API (issue 16, section 2), spoken to with urllib as a script would: reads
need no token and have fixed JSON shapes; every write needs the token printed at start, and a
missing or wrong one is 403 and changes nothing; bad fields are 400 and change nothing. Also the
live time rate (Rig.set_time_rate) the console's rate control uses. The browser side is in
tests/test_console_browser.py."""
import html.parser
import json
import time
import urllib.error
import urllib.request

import pytest

from host_tools.console import Console
from host_tools.console.state import Sampler, newest_telegram
from host_tools.rig import Rig
from test_rig_sts import config as sts_config


@pytest.fixture(scope="module")
def con():
    # a prepayment meter (the keypad takes tokens): credit, and the customer's button closes the relay
    with Rig(time_rate=60, config=sts_config()) as rig, Console(rig, period_s=0.2) as c:
        assert rig.command("topup", 1000000) is True
        rig.press_button()
        assert wait_for(lambda: rig.relay()["closed"])
        rig.set_load(1, 230.0, 4.0, 1.0)
        yield c


def get(c, path):
    with urllib.request.urlopen(c.url + path.lstrip("/"), timeout=10) as r:
        return r.status, dict(r.headers), r.read()


def post(c, control, fields, token=None, raw=None, ctype="application/json"):
    """(status, JSON answer) of a POST; token None: no token header."""
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["X-Console-Token"] = token
    data = raw if raw is not None else json.dumps(fields).encode()
    req = urllib.request.Request(c.url + "api/" + control, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def state(c):
    return json.loads(get(c, "/api/state")[2])


def wait_for(fn, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.1)


def test_state_and_history_shapes(con):
    s = wait_for(lambda: (lambda s: s if s.get("power", {}).get("L1", 0) > 0.5 else None)(state(con)))
    assert s["powered"] is True and s["rate"] == 60 and s["busy"] == ""
    regs = {r[0]: r[1:] for r in s["registers"]}
    v, scaler, unit = regs["1-0:1.8.0"]
    assert isinstance(v, int) and scaler == -3 and unit == "kWh"
    assert regs["1-0:32.7.0"][2] == "V"
    assert set(s["power"]) == {"P", "L1", "L2", "L3"}
    assert abs(s["power"]["L1"] - 0.92) < 0.01  # 230 V x 4 A
    c = s["clock"]
    assert c["offset"] == "UTC+01:00" and c["dst"] is False  # January in Europe/Amsterdam
    assert c["local"][11:13] == "%02d" % ((int(c["utc"][11:13]) + 1) % 24)
    assert s["tariff"] in (1, 2)
    assert s["p1"]["kind"] == "text" and s["p1"]["text"].startswith("/") and "1-0:1.8.1(" in s["p1"]["text"]
    assert s["optical"]["port"].startswith("/dev/pts/") and s["optical"]["meter_baud"] == 300
    assert s["relay"]["closed"] is True and s["relay"]["fault"] == "ok"
    assert len(s["display"]) == 8 and s["credit"]["unit"] == "energy" and s["radio"] is None
    h = json.loads(get(con, "/api/history")[2])
    assert h and all(len(row) == 5 for row in h)
    assert [r[0] for r in h] == sorted(set(r[0] for r in h))  # one sample per meter second, in order
    last = h[-1][0]
    assert json.loads(get(con, "/api/history?since=%d" % last)[2]) == []


class _Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []
        self.inline = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.refs += [a[k] for k in ("src", "href") if k in a]
        if tag == "script" and "src" not in a:
            self.inline += 1


def test_page_assets_are_local(con):
    status, headers, body = get(con, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    p = _Refs()
    p.feed(body.decode())
    assert p.inline == 0 and len(p.refs) >= 2
    for ref in p.refs:
        assert ref.startswith("/static/"), ref  # nothing from another host
        st, h, b = get(con, ref)
        assert st == 200 and b
    for bad in ("/static/../server.py", "/static/.hidden", "/nothing"):
        with pytest.raises(urllib.error.HTTPError) as e:
            get(con, bad)
        assert e.value.code == 404


def test_writes_without_the_token_are_refused_and_change_nothing(con):
    rig = con.rig
    p0 = wait_for(lambda: state(con).get("power"))["L2"]
    for token in (None, "", "wrong", con.token + "x"):
        assert post(con, "load", {"phase": 2, "volts": 230, "amps": 10, "pf": 1}, token)[0] == 403
        assert post(con, "rate", {"rate": 0}, token)[0] == 403
        assert post(con, "power", {"action": "cut"}, token)[0] == 403
        assert post(con, "keypad", {"keys": "1#"}, token)[0] == 403
    # a request for another host name (DNS rebinding) is refused, even with the token
    for host in ("evil.example:%d" % con.port, "127.0.0.1.nip.io:%d" % con.port):
        req = urllib.request.Request(con.url + "api/rate", data=b'{"rate": 0}', headers={
            "Content-Type": "application/json", "X-Console-Token": con.token, "Host": host})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 403
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(con.url + "api/state", headers={"Host": host}))
        assert e.value.code == 403
    # the token as a form field is the other accepted way; a wrong one there is refused too
    assert post(con, "rate", None, raw=b"rate=0&token=nope", ctype="application/x-www-form-urlencoded")[0] == 403
    time.sleep(1.0)
    s = state(con)
    assert rig.powered and rig.time_rate == 60 and s["rate"] == 60 and s["manual"] == []
    assert abs(s["power"]["L2"]) < 0.01 and abs(p0) < 0.01  # 2.3 kW had the load gone through
    assert "ENTER TOKEN" not in " ".join(rig.display())


def test_bad_fields_are_400_and_change_nothing(con):
    t = con.token
    for f in ({"phase": 4, "volts": 230, "amps": 1, "pf": 1}, {"phase": 2, "volts": 230, "amps": 1, "pf": 2},
              {"phase": 2, "volts": "x", "amps": 1, "pf": 1}, {"phase": 2, "volts": 230, "pf": 1},
              {"phase": 2, "volts": float("nan"), "amps": 1, "pf": 1}):
        code, body = post(con, "load", None, t, raw=json.dumps(f).encode())
        assert code == 400 and body["error"], f
    assert post(con, "rate", {"rate": -1}, t)[0] == 400
    assert post(con, "keypad", {"keys": "12a"}, t)[0] == 400
    assert post(con, "power", {"action": "explode"}, t)[0] == 400
    assert post(con, "load", None, t, raw=b"[1, 2]")[0] == 400
    assert post(con, "load", None, t, raw=b"{not json")[0] == 400
    assert post(con, "reboot", {}, t)[0] == 404
    assert con.controls.manual == set() and con.rig.time_rate == 60


def test_controls_with_the_token(con):
    rig, t = con.rig, con.token
    code, body = post(con, "load", None, t, raw=b"phase=3&volts=230&amps=10&pf=0.5",
                      ctype="application/x-www-form-urlencoded")
    assert code == 200 and body["manual"] is True
    assert wait_for(lambda: abs(state(con)["power"]["L3"] - 1.15) < 0.01)  # 230 V x 10 A x 0.5
    assert post(con, "load", {"phase": 3, "auto": True}, t)[1] == {"phase": 3, "manual": False}
    assert post(con, "rate", {"rate": 600}, t) == (200, {"rate": 600, "p1_pace": "virtual"})
    t0 = rig.now()
    time.sleep(1.0)
    assert 500 <= rig.now() - t0 <= 1500
    assert post(con, "rate", None, raw=("rate=60&token=" + t).encode(),  # the token as a form field
                ctype="application/x-www-form-urlencoded") == (200, {"rate": 60, "p1_pace": "virtual"})
    assert rig.time_rate == 60
    assert post(con, "keypad", {"keys": "12"}, t) == (200, {"typed": "12"})
    rig.wait_display("ENTER TOKEN")  # the meter's UI took the keys (prepayment config)
    assert post(con, "power", {"action": "cut"}, t) == (200, {"powered": False})
    assert post(con, "power", {"action": "cut"}, t)[0] == 409  # already off: the rig refuses
    assert wait_for(lambda: state(con)["powered"] is False)
    assert post(con, "power", {"action": "restore"}, t) == (200, {"powered": True})
    assert wait_for(lambda: (lambda s: s["powered"] and abs(s["power"]["L1"] - 0.92) < 0.01)(state(con)))


def test_power_ring_is_bounded():
    with Rig(time_rate=600) as rig:
        s = Sampler(rig, ring=5)
        for _ in range(12):
            s.sample()
            time.sleep(0.02)
        assert s.samples_taken >= 8 and len(s.history()) == 5


def test_line_rows_merge_alike_pieces():
    from host_tools.console.state import line_rows
    pieces = [(1.0, "to_meter", 300, 300, 5, False), (2.0, "to_client", 300, 300, 16, False),
              (2.5, "to_client", 300, 300, 16, False), (3.0, "to_client", 300, 9600, 4, True),
              (4.0, "to_client", 300, 300, 2, False)]
    assert line_rows(pieces, 10.0) == [[9.0, "to_meter", 300, 300, 5, False],
                                       [7.5, "to_client", 300, 300, 32, False],
                                       [7.0, "to_client", 300, 9600, 4, True],
                                       [6.0, "to_client", 300, 300, 2, False]]


def test_newest_telegram_skips_a_partial_one():
    a = b"/X5\r\n\r\n1-0:1.8.1(1*kWh)\r\n!ABCD\r\n"
    b = b"/X5\r\n\r\n1-0:1.8.1(2*kWh)\r\n!1234\r\n"
    assert newest_telegram(a + b)["text"] == b.decode()
    assert newest_telegram(a + b + b"/X5\r\n\r\n1-0:1.8.1(3")["text"] == b.decode()
    assert newest_telegram(b"\x00\xdb\x08") == {"kind": "binary", "hex": "00db08"}
    assert newest_telegram(b"") is None


def test_rig_time_rate_changes_live():
    with Rig(time_rate=1) as rig:
        rig.set_time_rate(0)
        t0 = rig.now()
        time.sleep(1.2)
        assert rig.now() == t0  # stands still at 0
        rig.set_time_rate(3600)
        time.sleep(0.5)
        assert rig.now() - t0 >= 1000
        with pytest.raises(ValueError):
            rig.set_time_rate(-1)


def test_make_sim_console_survives_a_cut_and_can_be_disabled(tmp_path):
    """`make sim` with the console: a cut and a restore from the console do not end the sim, its
    status lines continue; a load set there is kept by the household profile. SIM_CONSOLE=0: no
    console line."""
    import os
    import re
    import subprocess
    import sys
    from conftest import ROOT
    from test_rig_sim_lab import run_sim
    env = dict(os.environ, P1_PORT="0", DLMS_PORT="0", SIM_STATUS_S="0.5", SIM_RATE="60",
               SIM_STATE_DIR=str(tmp_path / "s1"))
    p = subprocess.Popen([sys.executable, "-m", "host_tools.sim"], stdout=subprocess.PIPE, text=True,
                         env=env, cwd=ROOT)
    try:
        head = [p.stdout.readline() for _ in range(6)]
        m = re.match(r"console: (\S+) \(token (\S+);", head[5])
        assert m, head
        c = type("C", (), {"url": m.group(1), "token": m.group(2)})
        assert post(c, "load", {"phase": 2, "volts": 230, "amps": 20, "pf": 1}, c.token)[0] == 200
        assert post(c, "power", {"action": "cut"}, c.token) == (200, {"powered": False})
        time.sleep(1.5)
        assert p.poll() is None  # the sim waits for the power, it does not report a dead meter
        assert post(c, "power", {"action": "restore"}, c.token) == (200, {"powered": True})
        line = ""
        end = time.monotonic() + 30
        while " L2=4.600kW" not in line:  # the status lines go on, with the console's load kept
            assert time.monotonic() < end, line
            line = p.stdout.readline()
            assert line, "sim ended"
    finally:
        p.terminate()
        p.wait(timeout=15)
    # a console port in use: said at once, no traceback
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        r = subprocess.run([sys.executable, "-m", "host_tools.sim"], capture_output=True, text=True,
                           timeout=60, cwd=ROOT, env=dict(env, SIM_CONSOLE_PORT=str(busy.getsockname()[1]),
                                                          SIM_STATE_DIR=str(tmp_path / "s3")))
    assert r.returncode == 2 and "sim: cannot start the console" in r.stderr and "Traceback" not in r.stderr
    head, status = run_sim(1, SIM_CONSOLE="0", SIM_STATE_DIR=str(tmp_path / "s2"))
    assert not [h for h in head if h.startswith("console:")] and len(head) == 5


def p1_telegrams(rig, seconds):
    """How many telegrams the meter sends over `seconds` real seconds."""
    m = rig.p1_mark()
    time.sleep(seconds)
    return rig.read_p1_bytes(timeout=0, after=m).count(b"!")


def test_rate_control_keeps_p1_at_one_telegram_per_real_second():
    """Raising the time rate from the console brings real-time P1 pacing with it (`make sim`'s
    rule, issue 16 defect 2), and lowering it back the virtual cadence; Rig.set_p1_pace on its own
    switches the cadence live."""
    from host_tools.sim import _p1_pace
    with Rig(time_rate=1, p1_pace="virtual") as rig, Console(rig, pace_for_rate=_p1_pace) as c:
        rig.set_load(1, 230.0, 5.0, 1.0)
        assert post(c, "rate", {"rate": 3600}, c.token) == (200, {"rate": 3600, "p1_pace": "real"})
        assert 1 <= p1_telegrams(rig, 3.0) <= 4  # virtual pacing would send ~10000
        assert post(c, "rate", {"rate": 1}, c.token) == (200, {"rate": 1, "p1_pace": "virtual"})
        rig.set_time_rate(600)  # bypassing the console: the virtual cadence floods
        assert p1_telegrams(rig, 1.0) > 20
        rig.set_p1_pace("real")
        p1_telegrams(rig, 0.5)  # a telegram started before the switch may still be going out
        assert 1 <= p1_telegrams(rig, 3.0) <= 4
        with pytest.raises(ValueError):
            rig.set_p1_pace("fast")


def test_optical_panel_shows_a_peer_readout(con):
    """The optical panel's figures follow a real readout by the iec62056-21 client."""
    from test_rig_optical import peer_readout, wait_idle
    s0 = state(con)
    datasets, _, _ = peer_readout(con.rig.optical_port)
    assert datasets
    wait_idle(con.rig)
    s1 = wait_for(lambda: (lambda s: s if s["optical_session"]["signons"] > s0["optical_session"]["signons"]
                           else None)(state(con)))
    w0, w1 = s0["optical"], s1["optical"]
    assert w1["clean"]["to_meter"] > w0["clean"]["to_meter"]
    assert w1["clean"]["to_client"] - w0["clean"]["to_client"] > 500  # the readout's data block
    dirs = {row[1] for row in w1["log"]}
    assert {"to_meter", "to_client"} <= dirs and all(len(row) == 6 for row in w1["log"])


def test_radio_panel_shows_received_frames():
    """With the radio on, the snapshot carries the radio port's statistics and frames: a frame
    coded by the test-side encoder (tests/mp/wmbus_ref.py, EN 13757-4) sent on the rig's air."""
    import os
    import sys
    from conftest import ROOT
    sys.path.insert(0, os.path.join(ROOT, "tests", "mp"))
    from wmbus_ref import on_air, load_vectors, vector_nocrc
    with Rig(time_rate=0, config={"radio": {"dup_window": 0, "keep": 8}}) as rig, \
            Console(rig, period_s=0.2) as c:
        rig.air.run(5)
        frame, fmt = vector_nocrc(load_vectors(ROOT + "/")[0])
        end = rig.air.send(on_air(frame, "C1", fmt), "C1", -60, 200)[1]
        rig.air.run(max(1, end // 1000 + 3 - rig.air.run(0)))
        s = wait_for(lambda: (lambda s: s if s.get("radio") and s["radio"]["frames"] else None)(state(c)))
        assert s["radio"]["stats"]["ok"] >= 1
        assert bytes.fromhex(s["radio"]["frames"][-1]["hex"])[1:] == frame[1:]
    with Rig(time_rate=0) as rig, Console(rig, period_s=0.2) as c:
        assert wait_for(lambda: state(c).get("registers")) and state(c)["radio"] is None
