"""The DLMS/COSEM server cores against the UNMODIFIED gurux-dlms client, over the TCP wrapper and
over HDLC (pyserial on a pty bridged to the MicroPython test server).

Expected values are computed here from the sample model's definition (tests/dlms/sample_model.py),
independently of the server code: profile entry i (0-based) is stamped PROFILE_T0 + (i+1)*900 s
UTC, import 1000000 + 37 i, export 5 i; local time is UTC+1 (deviation -60)."""
import datetime
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "dlms"))

from gurux_dlms import GXDLMSException, GXDateTime  # noqa: E402
from gurux_dlms.enums import Authentication, Security, ErrorCode  # noqa: E402
from gurux_dlms.objects import (GXDLMSClock, GXDLMSData, GXDLMSDisconnectControl,  # noqa: E402
                                GXDLMSProfileGeneric, GXDLMSRegister)

import sample_keys as K  # noqa: E402
from peer import Gx, PtyBridge, SerialIO, SockIO, DlmsTestServer, gurux_client  # noqa: E402

pytestmark = pytest.mark.timeout(300)

CET = datetime.timezone(datetime.timedelta(hours=1))
UTC = datetime.timezone.utc
PROFILE_LAST = datetime.datetime(2025, 1, 1, tzinfo=UTC)  # entry 999
SERVER_START = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def entry_time(i):
    return PROFILE_LAST - datetime.timedelta(seconds=900 * (999 - i))


class Link:
    """One transport to a running test server."""

    def __init__(self, srv):
        self.srv = srv
        self.bridge = None

    def io(self):
        if self.srv.mode == "wrapper":
            return SockIO(self.srv.port)
        self.bridge = PtyBridge(self.srv.port)
        return SerialIO(self.bridge.slave)

    def session(self, sap, auth=Authentication.NONE, password=None, security=Security.NONE):
        c = gurux_client(self.srv.mode, sap, auth, password, security, K.EK, K.AK, K.CLIENT_TITLE)
        return Gx(self.io(), c)

    def done(self, g):
        g.close()
        if self.bridge:
            self.bridge.close()
            self.bridge = None


@pytest.fixture(scope="module", params=["wrapper", "hdlc"])
def server(request):
    with DlmsTestServer(request.param, "unix32") as srv:
        yield srv
    assert srv.proc.returncode == 0, srv.stderr


def read_public_story(link):
    g = link.session(16)
    g.connect()
    try:
        clk = GXDLMSClock("0.0.1.0.0.255")
        g.read(clk, 2)
        t = clk.time.value
        assert t.utcoffset() == datetime.timedelta(hours=1)
        assert abs((t - SERVER_START).total_seconds()) < 600  # the server started at 12:00 UTC
        ldn = GXDLMSData("0.0.42.0.0.255")
        g.read(ldn, 2)
        assert bytes(ldn.value) == b"OMF0000000000001"
        sn = GXDLMSData("0.0.96.1.0.255")
        g.read(sn, 2)
        assert sn.value in ("12345678", b"12345678")
        for ln, scaler, unit, value in (("1.0.32.7.0.255", 0.1, 35, 230.1), ("1.0.31.7.0.255", 0.01, 33, 12.34),
                                        ("1.0.1.8.0.255", 1, 30, 1234567), ("1.0.1.7.0.255", 1, 27, -2840)):
            r = GXDLMSRegister(ln)
            g.read(r, 3)
            g.read(r, 2)
            assert r.scaler == pytest.approx(scaler) and int(r.unit) == unit, ln
            assert r.value == pytest.approx(value), ln
        pg = GXDLMSProfileGeneric("1.0.99.1.0.255")
        g.read(pg, 3)
        assert [str(c[0].logicalName) for c in pg.captureObjects] == [
            "0.0.1.0.0.255", "0.0.96.10.1.255", "1.0.1.8.0.255", "1.0.2.8.0.255"]
        g.read(pg, 7)
        assert pg.entriesInUse == 1000
        # by range: 12:00 .. 14:00 local on 2024-12-31, both ends inclusive -> 9 entries
        g.rows_by_range(pg, datetime.datetime(2024, 12, 31, 12, 0, tzinfo=CET),
                        datetime.datetime(2024, 12, 31, 14, 0, tzinfo=CET))
        want = [i for i in range(1000) if datetime.datetime(2024, 12, 31, 11, 0, tzinfo=UTC) <= entry_time(i)
                <= datetime.datetime(2024, 12, 31, 13, 0, tzinfo=UTC)]
        assert len(pg.buffer) == len(want) == 9
        for row, i in zip(pg.buffer, want):
            assert row[0].value == entry_time(i) and row[2] == 1000000 + 37 * i and row[3] == 5 * i
        # by entry: entries 10..14 (1-based)
        g.rows_by_entry(pg, 10, 5)
        assert [r[2] for r in pg.buffer] == [1000000 + 37 * i for i in range(9, 14)]
        # the whole buffer: many GET blocks
        g.rows_by_entry(pg, 1, 0)
        assert len(pg.buffer) == 1000
        assert pg.buffer[-1][0].value == PROFILE_LAST and pg.buffer[-1][2] == 1000000 + 37 * 999
        # the public client may not write
        txt = GXDLMSData("0.0.96.13.0.255")
        g.read(txt, 2)
        before = bytes(txt.value)
        txt.value = b"public"
        with pytest.raises(GXDLMSException) as e:
            g.write(txt, 2)
        assert e.value.errorCode == ErrorCode.READ_WRITE_DENIED
        g.read(txt, 2)
        assert bytes(txt.value) == before
        # nor disconnect
        dc = GXDLMSDisconnectControl("0.0.96.3.10.255")
        with pytest.raises(GXDLMSException) as e:
            g.method(dc, 1, 0, 15)
        assert e.value.errorCode == ErrorCode.READ_WRITE_DENIED
        # the object list: what this client sees
        objs = g.objects()
        names = {str(o.logicalName) for o in objs}
        assert {"0.0.40.0.0.255", "0.0.1.0.0.255", "1.0.99.1.0.255"} <= names
        assert "0.0.43.0.0.255" not in names  # security setup: management only
    finally:
        link.done(g)


def test_public_client(server):
    read_public_story(Link(server))


def management_story(link, auth, password, security):
    g = link.session(1, auth, password, security)
    g.connect()
    try:
        # set the clock to 2026-03-04 05:06:07 UTC and read it back
        clk = GXDLMSClock("0.0.1.0.0.255")
        target = datetime.datetime(2026, 3, 4, 6, 6, 7, tzinfo=CET)
        clk.time = GXDateTime(target)
        g.write(clk, 2)
        g.read(clk, 2)
        assert abs((clk.time.value - target).total_seconds()) < 5
        # write an attribute
        txt = GXDLMSData("0.0.96.13.0.255")
        txt.value = b"management %d" % auth
        g.write(txt, 2)
        g.read(txt, 2)
        assert bytes(txt.value) == b"management %d" % auth
        # invoke an action: remote_disconnect, then remote_reconnect
        dc = GXDLMSDisconnectControl("0.0.96.3.10.255")
        g.method(dc, 1, 0, 15)
        g.read(dc, 2)
        assert dc.outputState is False
        g.method(dc, 2, 0, 15)
        g.read(dc, 2)
        assert dc.outputState is True
        # an attribute that is read-only for everybody
        reg = GXDLMSRegister("1.0.1.8.0.255")
        reg.value = 1
        with pytest.raises(GXDLMSException) as e:
            g.write(reg, 2)
        assert e.value.errorCode == ErrorCode.READ_WRITE_DENIED
    finally:
        link.done(g)


def test_management_hls_gmac(server):
    n = len(server.lines)
    management_story(Link(server), Authentication.HIGH_GMAC, None, Security.AUTHENTICATION_ENCRYPTION)
    acts = server.lines[n:]
    assert "ACT EVENT 1 1 5" in acts  # associated, mechanism 5
    assert any(a.startswith("ACT STORE rx_ic") for a in acts)


def test_management_lls(server):
    n = len(server.lines)
    management_story(Link(server), Authentication.LOW, K.LLS_PASSWORD, Security.NONE)
    assert "ACT EVENT 1 1 1" in server.lines[n:]


def test_lls_wrong_password_and_lockout(server):
    link = Link(server)
    for attempt in range(4):
        g = link.session(1, Authentication.LOW, b"wrong-pw", Security.NONE)
        with pytest.raises(GXDLMSException) as e:
            g.connect()
        # gurux reports the AARE result as the error: rejected-permanent (authentication failure)
        # for the three counted tries, then rejected-transient while locked out
        want = 1 if attempt < 3 else 2
        assert e.value.result == want, (attempt, e.value.result, e.value.diagnostic)
        if attempt < 3:
            assert e.value.diagnostic == 13
        try:
            link.done(g)
        except (GXDLMSException, OSError, TimeoutError, ConnectionError):
            g.io.close()
            if link.bridge:
                link.bridge.close()
                link.bridge = None
    # the right password is refused too while locked out
    g = link.session(1, Authentication.LOW, K.LLS_PASSWORD, Security.NONE)
    with pytest.raises(GXDLMSException):
        g.connect()
    g.io.close()
    if link.bridge:
        link.bridge.close()
        link.bridge = None
    assert any(x.startswith("ACT EVENT 3 60") for x in server.lines)  # EV_LOCKOUT 60 s


def test_public_client_unix64():
    with DlmsTestServer("wrapper", "unix") as srv:
        read_public_story(Link(srv))
    assert srv.proc.returncode == 0, srv.stderr
