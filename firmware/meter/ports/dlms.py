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
        app = Application(self.registry, self.clients, self.keys, self.sec, self.lockout, _urandom,
                          max_pdu=self.max_pdu)
        return TcpServer(app, inactivity_ms=self.inactivity_ms)

    async def run(self):
        self._restore()
        await asyncio.start_server(self._serve, self.host, self.port, backlog=self.max_conn)

    async def _carry_out(self, writer, acts):
        """-> False when the connection is to close."""
        for a in acts:
            k = a[0]
            if k == X.SEND:
                writer.write(bytes(a[1]))
                await writer.drain()
            elif k == X.CLOSE:
                return False
            elif k == X.STORE:
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
        return True

    async def _serve(self, reader, writer):
        if self.conns >= self.max_conn:
            writer.close()
            await writer.wait_closed()
            return
        self.conns += 1
        srv = self.new_server()
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
