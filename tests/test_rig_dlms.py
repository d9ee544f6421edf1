"""The meter's DLMS/COSEM server on the rig (ports/dlms.py, TCP wrapper on 127.0.0.1) over the
REAL services (services/cosem_model.py), read and controlled by the unmodified dlms-cosem client:
public reads of the clock, identity and a register with its scaler_unit; a refused public write;
the management client with HLS-GMAC sets the meter clock (the rig's clock follows) and remotely
disconnects and reconnects (the rig's relay model follows). Library notes (worked around, not
patched): dlms-cosem refuses a server invocation counter of 0; it cannot decode a
visible-string (the raw A-XDR is compared); dates go as 12-byte octet strings.
"""
import datetime
import os
import subprocess
import sys
import time

import pytest
from dlms_cosem import cosem, dlms_data, enumerations as E, utils
from dlms_cosem.clients.dlms_client import DlmsClient
from dlms_cosem.protocol.xdlms import SetResponseNormal

from conftest import ROOT
from host_tools.rig import Rig, UNIX_2020

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "dlms"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "mp"))
from peer import free_port  # noqa: E402

pytestmark = [pytest.mark.rig, pytest.mark.timeout(180)]
EK = bytes(range(16))
AK = bytes(range(0xD0, 0xE0))
CLIENT_TITLE = b"ABCDEFGH"
CLOCK = cosem.CosemAttribute(E.CosemInterface.CLOCK, cosem.Obis(0, 0, 1, 0, 0), 2)
DC = cosem.Obis(0, 0, 96, 3, 10)
OUTPUT = cosem.CosemAttribute(E.CosemInterface.DISCONNECT_CONTROL, DC, 2)
SUPPLY_DISCONNECTED = 50
DLMS_ACTION = 90


@pytest.fixture(scope="module")
def rig():
    cfg = {"dlms": {"tcp_port": free_port()}, "supply": {"control_mode": 2},
           "keys": {"dlms_ek": EK.hex(), "dlms_ak": AK.hex(), "dlms_lls": b"12345678".hex()}}
    r = Rig(start="2026-01-05T12:00:00Z", config=cfg)
    r.start()
    try:
        yield r
    finally:
        r.close()


def public(rig):
    return DlmsClient.with_tcp_transport("127.0.0.1", rig.dlms_port, 16, 1)


def mgmt(rig):
    return DlmsClient.with_tcp_transport(
        "127.0.0.1", rig.dlms_port, 1, 1, authentication_method=E.AuthenticationMechanism.HLS_GMAC,
        encryption_key=EK, authentication_key=AK, client_system_title=CLIENT_TITLE,
        client_initial_invocation_counter=5000)


def test_url(rig):
    assert rig.dlms_url == "tcp://127.0.0.1:%d" % rig.dlms_port


def test_public_reads_real_services(rig):
    regs = rig.registers()
    with public(rig).session() as cl:
        clk = cl.get(CLOCK)
        # 2026-01-05 12:00 UTC + a few seconds = 13:00 CET (deviation -60 = FFC4)
        assert clk[:2] == b"\x09\x0c" and clk[2:8] == bytes([0x07, 0xEA, 1, 5, 1, 13])
        assert clk[11:13] == b"\xff\xc4"
        # dlms-cosem cannot decode visible-string (NotImplementedError): the raw A-XDR is checked
        sn = cl.get(cosem.CosemAttribute(E.CosemInterface.DATA, cosem.Obis(0, 0, 96, 1, 0), 2))
        assert sn == b"\x0a\x08" + b"00000001"
        su = utils.parse_as_dlms_data(cl.get(cosem.CosemAttribute(
            E.CosemInterface.REGISTER, cosem.Obis(1, 0, 1, 8, 0), 3)))
        v, sc, unit = regs["1-0:1.8.0"]
        assert su == [sc + 3, 30] and unit == "kWh"  # kWh with scaler -3 is Wh with scaler 0
        r = cl.set(CLOCK, dlms_data.OctetStringData(bytes(12)).to_bytes())
        assert isinstance(r, SetResponseNormal) and r.result == E.DataAccessResult.READ_WRITE_DENIED


def test_mgmt_gmac_sets_clock_and_switches_the_relay(rig):
    assert rig.relay()["closed"] is True
    with mgmt(rig).session() as cl:
        dt = bytes([0x07, 0xEA, 3, 4, 3, 6, 6, 7, 0, 0xFF, 0xC4, 0])  # 06:06:07 CET = 05:06:07 UTC
        assert cl.set(CLOCK, dlms_data.OctetStringData(dt).to_bytes()).result == E.DataAccessResult.SUCCESS
        want = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
        assert abs(rig.now_unix() - want.timestamp()) < 30
        cl.action(cosem.CosemMethod(E.CosemInterface.DISCONNECT_CONTROL, DC, 1), dlms_data.IntegerData(0).to_bytes())
        assert until(lambda: rig.relay()["closed"] is False)
        # output_state follows the contact's feedback once the relay has settled
        assert until(lambda: utils.parse_as_dlms_data(cl.get(OUTPUT)) is False)
        cl.action(cosem.CosemMethod(E.CosemInterface.DISCONNECT_CONTROL, DC, 2), dlms_data.IntegerData(0).to_bytes())
        assert until(lambda: rig.relay()["closed"] is True)  # mode 2: remote reconnect closes (a)
    assert len(rig.relay()["changes"]) >= 2


def until(fn, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.05)
    return False


def cli(*args):
    p = subprocess.run([sys.executable, "-m", "host_tools", "dlms"] + list(args), capture_output=True,
                       text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)
    return p


def test_cli_read_get_set_action(rig):
    url = rig.dlms_url
    p = cli("read", url)
    assert p.returncode == 0, p.stderr
    assert "serial" in p.stdout and "00000001" in p.stdout and "1-0:1.8.0" in p.stdout
    p = cli("get", url, "3", "1-0:1.8.0", "3")
    assert p.returncode == 0 and p.stdout.startswith("02020f00161e"), p.stdout + p.stderr
    # public client: write refused, nothing changes
    p = cli("set", url, "70", "0-0:96.3.10", "4", "1600")
    assert p.returncode == 1 and "READ_WRITE_DENIED" in p.stdout, p.stdout + p.stderr
    mg = ["--client", "1", "--ek", EK.hex(), "--ak", AK.hex(), "--ic", "9000"]
    p = cli("action", url, "70", "0-0:96.3.10", "1", *mg)
    assert p.returncode == 0 and "SUCCESS" in p.stdout, p.stdout + p.stderr
    assert until(lambda: rig.relay()["closed"] is False)
    p = cli("action", url, "70", "0-0:96.3.10", "2", *mg[:-1], "9100")
    assert p.returncode == 0, p.stdout + p.stderr
    assert until(lambda: rig.relay()["closed"] is True)


def gx(rig, sap, ic=20000, **kw):
    from peer import Gx, SockIO, gurux_client
    c = gurux_client("wrapper", sap, **kw)
    if kw:  # the server's last accepted IC is shared by every client of these keys (the
        c.settings.cipher.invocationCounter = ic  # dlms-cosem sessions above went to 9100)
    g = Gx(SockIO(rig.dlms_port), c)
    g.connect()
    return g


def test_gurux_public_and_management_gmac(rig):
    """gurux-dlms over the TCP wrapper: public reads with scalers and a refused write; management
    with HLS-GMAC (authenticated and encrypted) sets the clock and switches the relay."""
    from gurux_dlms import GXDLMSException, GXDateTime
    from gurux_dlms.enums import Authentication, Security, ErrorCode
    from gurux_dlms.objects import GXDLMSClock, GXDLMSDisconnectControl, GXDLMSRegister
    g = gx(rig, 16)
    try:
        reg = GXDLMSRegister("1.0.32.7.0.255")
        g.read(reg, 3)
        g.read(reg, 2)
        v, sc, unit = rig.registers()["1-0:32.7.0"]
        assert reg.scaler == 10.0 ** sc and abs(reg.value - v * 10.0 ** sc) <= 2.0  # V, live
        clk = GXDLMSClock("0.0.1.0.0.255")
        clk.time = GXDateTime(datetime.datetime(2027, 1, 1, tzinfo=datetime.timezone.utc))
        with pytest.raises(GXDLMSException) as e:
            g.write(clk, 2)
        assert e.value.errorCode == ErrorCode.READ_WRITE_DENIED
    finally:
        g.close()
    g = gx(rig, 1, auth=Authentication.HIGH_GMAC, security=Security.AUTHENTICATION_ENCRYPTION,
           ek=EK, ak=AK, title=CLIENT_TITLE)
    try:
        gx_set_clock_and_switch(rig, g)
    finally:
        g.close()


def gx_set_clock_and_switch(rig, g):
    """A management session (gurux, any transport) sets the clock and disconnects and reconnects;
    the rig's clock and relay follow."""
    from gurux_dlms import GXDateTime
    from gurux_dlms.objects import GXDLMSClock, GXDLMSDisconnectControl
    assert rig.relay()["closed"] is True
    clk = GXDLMSClock("0.0.1.0.0.255")
    target = datetime.datetime(2026, 7, 1, 10, 0, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    clk.time = GXDateTime(target)
    g.write(clk, 2)
    assert abs(rig.now_unix() - target.timestamp()) < 30
    dc = GXDLMSDisconnectControl("0.0.96.3.10.255")
    g.method(dc, 1, 0, 15)
    assert until(lambda: rig.relay()["closed"] is False)
    g.method(dc, 2, 0, 15)
    assert until(lambda: rig.relay()["closed"] is True)


def gx_passive_calendar(name):
    """A gurux passive activity calendar: one season from 2026, every day of the week day profile 1
    (rate 4 all day); day profile 0 (rate 3) for the NL calendar's special days (day id 0)."""
    from gurux_dlms import GXDateTime, GXTime
    from gurux_dlms.objects import (GXDLMSActivityCalendar, GXDLMSSeasonProfile, GXDLMSWeekProfile,
                                    GXDLMSDayProfile, GXDLMSDayProfileAction)
    cal = GXDLMSActivityCalendar("0.0.13.0.0.255")
    sp = GXDLMSSeasonProfile()
    sp.name, sp.weekName = b"all", b"w"
    sp.start = GXDateTime(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    wp = GXDLMSWeekProfile()
    wp.name = b"w"
    wp.monday = wp.tuesday = wp.wednesday = wp.thursday = wp.friday = wp.saturday = wp.sunday = 1
    days = []
    for i, rate in ((0, 3), (1, 4)):
        dp = GXDLMSDayProfile()
        dp.dayId = i
        a = GXDLMSDayProfileAction()
        a.startTime = GXTime(datetime.datetime(2026, 1, 1, 0, 0, 0))
        a.scriptLogicalName = "0.0.10.0.100.255"
        a.scriptSelector = rate
        dp.daySchedules = [a]
        days.append(dp)
    cal.calendarNamePassive = name
    cal.seasonProfilePassive, cal.weekProfileTablePassive, cal.dayProfileTablePassive = [sp], [wp], days
    return cal


def test_gurux_gmac_writes_a_passive_calendar_that_activates(rig):
    """gurux-dlms (HLS-GMAC) writes the passive activity calendar (IC 20) and its activation time;
    the meter schedules it through the tariff service (as the optical C.90.3 commit does) and,
    once the rig passes the activation time, rates by it. Day id 0 exists because the active NL
    calendar's special days name day id 0 (they are carried into the passive calendar)."""
    from gurux_dlms import GXDateTime
    from gurux_dlms.objects import GXDLMSActivityCalendar
    from gurux_dlms.enums import Authentication, Security
    cal = gx_passive_calendar("gx passive")
    t_act = (rig.now_unix() // 60 + 60) * 60  # an hour ahead, on a minute
    cal.time = GXDateTime(datetime.datetime.fromtimestamp(t_act, datetime.timezone.utc))
    assert rig.query("rate") in (1, 2)
    g = gx(rig, 1, ic=25000, auth=Authentication.HIGH_GMAC, security=Security.AUTHENTICATION_ENCRYPTION,
           ek=EK, ak=AK, title=CLIENT_TITLE)
    try:
        for attr in (6, 7, 8, 9, 10):
            g.write(cal, attr)
        back = GXDLMSActivityCalendar("0.0.13.0.0.255")
        g.read(back, 9)
        assert [(d.dayId, int(d.daySchedules[0].scriptSelector)) for d in back.dayProfileTablePassive] == \
            [(0, 3), (1, 4)]
    finally:
        g.close()
    info = rig.query("tariff")
    assert info["passive"] is not None and abs(info["activation"] + UNIX_2020 - t_act) <= 1
    rig.set_load(1, 230.0, 10.0, 1.0)  # energy flows: the rate engine evaluates every tick
    e3, e4 = (rig.register("1-0:1.8.%d" % k)[0] for k in (3, 4))
    rig.advance(2 * 3600)
    info = rig.query("tariff")
    assert info["name"] == "gx passive" and info["passive"] is None
    assert rig.query("rate") in (3, 4)  # 3 only on one of the NL calendar's special days
    assert rig.register("1-0:1.8.3")[0] + rig.register("1-0:1.8.4")[0] > e3 + e4  # rated 3/4 now
    g = gx(rig, 16)
    try:
        back = GXDLMSActivityCalendar("0.0.13.0.0.255")
        g.read(back, 2)
        assert back.calendarNameActive == "gx passive"
    finally:
        g.close()


def test_zz_invocation_counter_survives_a_power_cut(rig):
    """The last accepted client IC is persisted: after a power cut an old IC is a replay, a newer
    one associates."""
    from dlms_cosem.exceptions import DlmsClientException

    def session(ic):
        c = DlmsClient.with_tcp_transport(
            "127.0.0.1", rig.dlms_port, 1, 1, authentication_method=E.AuthenticationMechanism.HLS_GMAC,
            encryption_key=EK, authentication_key=AK, client_system_title=CLIENT_TITLE,
            client_initial_invocation_counter=ic)
        with c.session() as cl:
            return cl.get(CLOCK)

    assert session(30000)[:2] == b"\x09\x0c"
    rig.power_cut()
    rig.power_restore()
    with pytest.raises(DlmsClientException):  # AARE rejected: the HLS response's IC is old
        session(29990)
    assert session(50000)[:2] == b"\x09\x0c"


def test_fuzz_tcp_port_1e4_frames(rig):
    """10^4 random and mutated wrapper frames (the mutator of test_dlms_fuzz_tcp) at the meter's
    own port: it keeps answering, nothing is written or switched without authentication."""
    import random
    import socket as so
    import dlms_client as DC
    from test_dlms_fuzz_tcp import SEEDS, mutate, drain
    r = random.Random(17)
    relay0 = rig.relay()
    t0 = rig.now_unix()
    sent = 0
    while sent < 10000:
        s = so.create_connection(("127.0.0.1", rig.dlms_port))
        s.settimeout(0.0)
        for i in range(500):
            apdu = mutate(r, r.choice(SEEDS)) if r.random() < 0.9 else os.urandom(r.randrange(40))
            f = DC.wrap(apdu, r.choice((16, 16, 1, 7)))
            if r.random() < 0.2:
                f = mutate(r, f)
            try:
                s.sendall(f)
            except OSError:
                break  # the meter closed this connection (framing error): a new one next
            sent += 1
            if i % 16 == 0:
                drain(s)
        drain(s)
        s.close()
    assert rig.relay() == relay0
    assert abs(rig.now_unix() - t0) < 120  # the clock was not set
    with public(rig).session() as cl:
        assert cl.get(CLOCK)[:2] == b"\x09\x0c"


def test_load_profile_range_and_entries(rig):
    """The load profile read by range on its clock column and by entry (dlms-cosem's generic
    A-XDR parser: its profile helper needs capture-object metadata)."""
    from dlms_cosem.cosem.selective_access import CaptureObject, RangeDescriptor
    rig.set_load(1, 230.0, 10.0, 1.0)
    rig.advance(3 * 3600)
    PG = cosem.CosemAttribute(E.CosemInterface.PROFILE_GENERIC, cosem.Obis(1, 0, 99, 1, 0), 2)
    with public(rig).session() as cl:
        # in the meter's local time (its deviation): the range compares date-time fields
        dev = int.from_bytes(cl.get(CLOCK)[11:13], "big", signed=True)
        t = rig.now_unix()
        end = datetime.datetime.fromtimestamp(t - t % 900, datetime.timezone(datetime.timedelta(minutes=-dev)))
        rd = RangeDescriptor(restricting_object=CaptureObject(cosem_attribute=CLOCK),
                             from_value=end - datetime.timedelta(hours=1), to_value=end)
        n = utils.parse_as_dlms_data(cl.get(cosem.CosemAttribute(
            E.CosemInterface.PROFILE_GENERIC, cosem.Obis(1, 0, 99, 1, 0), 7)))
        assert n >= 12
        rows = utils.parse_as_dlms_data(cl.get(PG, access_descriptor=rd))
        assert len(rows) == 5  # the quarter hours end-1h .. end, both ends included
        a = [r[2] for r in rows]
        assert a == sorted(a) and a[-1] - a[0] >= 2000  # 2.3 kW for an hour: ~2300 Wh
        full = utils.parse_as_dlms_data(cl.get(PG))
        assert len(full) == n and full[-1][2] == a[-1]


def test_prepayment_account_objects_follow_the_account():
    """With prepayment configured, dlms-cosem (public) reads the account (IC 111) and the token
    credit (IC 112): the values the rig's credit service reports, following a top-up."""
    cfg = {"dlms": {"tcp_port": free_port()},
           "prepayment": {"unit": "energy", "payment_mode": 2, "debt": 300, "debt_percent": 50}}
    r = Rig(start="2026-01-05T12:00:00Z", config=cfg)
    r.start()
    try:
        acc = cosem.CosemAttribute(111, cosem.Obis(0, 0, 19, 0, 0), 5)
        tok = cosem.CosemAttribute(112, cosem.Obis(0, 0, 19, 10, 0), 2)
        debt = cosem.CosemAttribute(113, cosem.Obis(0, 0, 19, 20, 2), 12)
        r.command("topup", 5000)
        with public(r).session() as cl:
            a, t, d = (utils.parse_as_dlms_data(cl.get(x)) for x in (acc, tok, debt))
        c = r.query("credit")
        assert d == 0 and t == a  # 50 % of the top-up cleared the 300 debt; no emergency credit
        assert 4700 - 50 <= a <= 4700 and abs(r.register("0-0:19.0.0")[0] - a) <= 50, (a, c)
    finally:
        r.close()
