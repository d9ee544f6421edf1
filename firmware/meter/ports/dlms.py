# DLMS/COSEM over the TCP wrapper (IEC 62056-47): a thin asyncio task moving bytes between TCP
# connections and the sans-I/O server (cores/dlms/server.py), one TcpServer + Application (one
# association) per connection, at most `max_conn` at once (a further connection is closed at
# once). The object model is services/cosem_model.py; keys come from the board key store only.
#
#   port = DlmsPort(registry, keys, clients, ticks, cell, events, clock, config)
#   asyncio.create_task(port.run())
#
# Actions (cores/dlms/actions.py) are carried out here: STORE of the invocation counters and the
# lockout goes to `cell` (a 16-byte storage.StateCell: tx_ic u32, rx_ic+1 u32, lockout 8 bytes)
# and is durable before the answer goes out; NEW_KEY/SECRET install the key in Keys (RAM: the
# board key store is the boot source); EVENT is counted on the event log as DLMS_* codes (not
# image_block_transfer, IC 18 method 2: one per 512 bytes; the update service logs the outcome).
import asyncio
import struct

from meter.common.ticks import tdiff
from meter.common import events as ev
from meter.cores.dlms import actions as X
from meter.cores.dlms.server import Application, TcpServer
from meter.cores.dlms.association import SecState
from meter.common.lockout import Lockout

CELL_SIZE = 16
_MASK = 0x3FFFFFFF
# the DLMS events the meter logs (others - associated, released - are too frequent for the log)
_LOGGED = {X.EV_AUTH_FAIL: ev.DLMS_AUTH_FAIL, X.EV_LOCKOUT: ev.DLMS_LOCKOUT,
           X.EV_WRITE: ev.DLMS_WRITE, X.EV_ACTION: ev.DLMS_ACTION, X.EV_REPLAY: ev.DLMS_REPLAY}


def _urandom(n):
    import os
    return os.urandom(n)


class DlmsPort:
    def __init__(self, registry, keys, clients, ticks, cell, events, clock, config=None):
        cfg = config or {}
        self.registry = registry
        self.keys = keys
        self.clients = clients
        self.ticks = ticks
        self.cell = cell
        self.events = events
        self.clock = clock
        self.host = cfg.get("host", "127.0.0.1")
        self.port = cfg.get("tcp_port", 4059)
        self.max_conn = cfg.get("max_conn", 2)
        self.max_pdu = cfg.get("max_pdu", 1024)
        self.inactivity_ms = cfg.get("inactivity_s", 120) * 1000
        self.conns = 0
        self.sec = SecState()
        self.lockout = Lockout(cfg.get("max_fails", 3), cfg.get("lockout_s", 60),
                               cfg.get("lockout_max_s", 86400))

    def _restore(self):
        """From the state cell (after the app's storage restore: run() calls it)."""
        d = self.cell.data
        tx, rx1 = struct.unpack_from("<II", d, 0)
        if tx:
            self.sec.tx_ic = self.sec.tx_reserved = tx
        self.sec.rx_ic = rx1 - 1
        if any(d[8:16]):
            try:
                self.lockout.load(bytes(d[8:16]))
            except ValueError:
                pass  # not a valid record: no lockout in force

    def _store(self, name, value):
        d = self.cell.data
        rec = bytearray(d)
        if name == "tx_ic":
            struct.pack_into("<I", rec, 0, value)
        elif name == "rx_ic":
            struct.pack_into("<I", rec, 4, value + 1)
        else:
            rec[8:16] = value
        self.cell.store(rec)

    def now(self):
        return self.ticks.ticks_ms() & _MASK

    def new_server(self):
        return TcpServer(self.new_app(), inactivity_ms=self.inactivity_ms)

    async def run(self):
        self._restore()
        await asyncio.start_server(self._serve, self.host, self.port, backlog=self.max_conn)

    def new_app(self):
        """One Application (one association) sharing the port's keys, counters and lockout."""
        return Application(self.registry, self.clients, self.keys, self.sec, self.lockout,
                           _urandom, max_pdu=self.max_pdu)

    def hdlc(self, config=None):
        """DLMS over HDLC for the optical port in mode E (HdlcLine), sharing this port's
        Application set-up; config: server_address (1), max_info (128), inactivity_s (120)."""
        return HdlcLine(self, config or {})

    async def _carry_out(self, writer, acts):
        """-> False when the connection is to close."""
        for a in acts:
            k = a[0]
            if k == X.SEND:
                writer.write(bytes(a[1]))
                await writer.drain()
            elif k == X.CLOSE:
                return False
            else:
                self.apply(a)
        return True

    def apply(self, a):
        """Carry out one action other than SEND/CLOSE (durable before the answer goes out)."""
        k = a[0]
        if k == X.STORE:
            self._store(a[1], a[2])
        elif k == X.NEW_KEY:
            if a[1] == 0:
                self.keys.ek = a[2]
            elif a[1] == 2:
                self.keys.ak = a[2]
            elif a[1] == 3:
                self.keys.kek = a[2]
        elif k == X.SECRET:
            self.keys.lls[a[1]] = a[2]
        elif k == X.EVENT:
            code = _LOGGED.get(a[1])
            if code is not None and not (a[2] == 18 and a[3][6] == 2):  # not every image block
                self.events.add(self.clock.now(), code, a[2], 0)

    async def _serve(self, reader, writer):
        srv = None
        if self.conns < self.max_conn:
            try:
                srv = self.new_server()
            except MemoryError:  # no heap for one more session now: refused like one too many
                pass
        if srv is None:
            writer.close()
            await writer.wait_closed()
            return
        self.conns += 1
        try:
            while True:
                try:
                    data = await asyncio.wait_for_ms(reader.read(512), 1000)
                except asyncio.TimeoutError:
                    if not await self._carry_out(writer, srv.poll(self.now())):
                        break
                    continue
                if not data:
                    await self._carry_out(writer, srv.close())
                    break
                if not await self._carry_out(writer, srv.receive(data, self.now())):
                    break
        except OSError:  # the peer went away (ECONNRESET, EPIPE)
            pass
        finally:
            self.conns -= 1
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


class HdlcLine:
    """DLMS over HDLC (IEC 62056-46) on the optical port after IEC 62056-21 mode E: the optical
    port hands it the line (start), the received bytes (receive) and its poll ticks (poll); it
    answers through write(bytes) and says when the link is over (True from receive/poll: DISC,
    the HDLC inactivity time-out, or no frame at all for that time after the switch), after which
    the port returns to mode C. One HdlcServer, built at the first mode E and reused (its
    buffers are preallocated); the Application's keys, invocation counters and lockout are the
    DLMS port's, so the TCP and optical associations share them."""

    def __init__(self, port, cfg):
        self.port = port
        self.upper = cfg.get("server_address", 1)
        self.max_info = cfg.get("max_info", 128)
        self.inactivity_ms = cfg.get("inactivity_s", port.inactivity_ms // 1000) * 1000
        self.srv = None
        self._t = 0  # last byte received
        self.sessions = 0

    def start(self, now):
        if self.srv is None:
            from meter.cores.dlms.server import HdlcServer  # at the first mode E only
            from meter.cores.dlms.hdlc import Link
            self.srv = HdlcServer(self.port.new_app(), Link(
                upper=self.upper, lower=None, max_info=self.max_info,
                max_apdu=self.port.max_pdu + 64, inactivity_ms=self.inactivity_ms))
        self.srv.link.reset()
        self.srv.app.release([])  # a link abandoned without DISC (the port's fault path)
        self._t = now & _MASK
        self.sessions += 1

    def _carry_out(self, acts, write):
        for a in acts:
            if a[0] == X.SEND:
                write(a[1])
            else:
                self.port.apply(a)

    def receive(self, data, n, now, write):
        """data[:n] from the line; -> True when the link has ended (back to mode C)."""
        now &= _MASK
        srv = self.srv
        was = srv.link.connected
        self._t = now
        self._carry_out(srv.receive(data, now, n), write)
        return self._ended(was, now)

    def poll(self, now, write):
        now &= _MASK
        srv = self.srv
        was = srv.link.connected
        self._carry_out(srv.poll(now), write)
        return self._ended(was, now)

    def _ended(self, was, now):
        link = self.srv.link
        if link.connected:
            return False
        if was:  # DISC answered, or the link's inactivity time-out (the server released)
            return True
        return tdiff(now, self._t) > self.inactivity_ms
