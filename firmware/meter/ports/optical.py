# The optical port: a thin task that moves bytes between the optical UART and the IEC 62056-21
# session (cores/iec62056_21), and carries out the session's actions.
#
# Wiring (the app):
#   optical = make_optical(board, registers, events, clock, persist_lockout=fn, registry=None,
#                          lockout=None, config=None)       # clock = the MeterClock service
#   # registry: other services register their programming-mode objects in optical.session.registry
#   #   (tariff tables, prepayment parameters, relay commands: register_object(obis, read_fn,
#   #   write_fn, level)); make_optical adds the identity and clock objects.
#   # lockout: restored from storage at start-up (Lockout.load), before the first poll.
#   # persist_lockout(record8): called for every LOCKOUT action, before any answer goes out; it
#   #   must make the record durable at once.
#   poll() every 10-20 ms (the app's poll task), status() for diagnostics (the rig's query).
#
# Time: protocol timing (reaction time, baud switch delay, timeouts, the lockout countdown) runs on
# `ticks.ticks_ms()`; event stamps on `clock.now()`. make_optical passes board.line_clock as `ticks`
# when the board has one: the unix_sim board's real-time ms, because the wire and the peer on the
# optical port run in real time even when the rig freezes or accelerates virtual time. MCU boards
# have no line_clock: their clock.ticks_ms() is real time.
#
# poll() reads what the UART holds (any()/readinto() into a preallocated 64-byte buffer, no
# allocation per byte), feeds the session and executes its actions in order:
#   SEND    -> uart.write(data)
#   BAUD    -> uart.flush() where the port has it (rp2, esp32: waits for the last stop bit; the session
#              only asks once its own estimate says the line is idle, so this normally returns at
#              once), then uart.init(baudrate=b, bits=7, parity=0, stop=1)
#   EVENT   -> events.add(clock.now(), code, a, b)
#   LOCKOUT -> persist_lockout(record)
#   WRITE   -> registry.write(i, value) (the owning service applies it), then session.write_done()
#   BINARY  -> mode E (IEC 62056-21 Annex E; only with an `hdlc` line, see make_optical): flush,
#              uart.init(baudrate=b, bits=8, parity=None, stop=1), and from now on the received bytes
#              go to the HDLC line (ports/dlms.py HdlcLine: DLMS over HDLC with the DLMS port's
#              application set-up) instead of the session. When the line says it has ended (DISC,
#              or the HDLC inactivity time-out) the port flushes and calls session.binary_done():
#              BAUD 300, 7E1, mode C again.
# MicroPython UART line settings: parity 0 = even, 1 = odd, None = none. On rp2 and esp32 `bits`
# counts data bits without the parity bit, so 7E1 is bits=7, parity=0 (the default here). On stm32
# `bits` includes the parity bit: pass data_bits=8 there.
from meter.cores.iec62056_21 import session as iec
from meter.cores.iec62056_21 import framing as F
from meter.cores.iec62056_21 import readout as ro
from meter.common.lockout import Lockout
from meter.cores.iec62056_21.registry import Registry
from meter.ports import optical_objects as objects


class OpticalPort:
    def __init__(self, uart, session, clock, events, data_bits=7, rxbuf=64, ticks=None,
                 persist_lockout=None, hdlc=None):
        self.uart = uart
        self.session = session
        self.clock = clock
        self.ticks = ticks if ticks is not None else clock
        self.events = events
        self.persist_lockout = persist_lockout
        self.data_bits = data_bits
        self._buf = bytearray(rxbuf)
        self.baud = 300
        self.tx_bytes = 0
        self.rx_bytes = 0
        self.faults = 0  # exceptions caught in poll() (none expected)
        self.hdlc = hdlc  # HdlcLine for mode E, or None
        self.binary = False  # the line is in mode E (8N1, HDLC)
        self._wr = self._write  # bound once: no allocation per frame
        self._init(300)

    @property
    def lockout(self):
        return self.session.lockout

    def lockout_record(self):
        """The 8-byte lockout record as of now (Lockout.dump at the protocol ticks)."""
        return self.session.lockout.dump(self.ticks.ticks_ms())

    def status(self):
        """Diagnostics: session state (0 idle, 1 wait option, 2 readout, 3 after readout,
        4 programming), line baud, access level, lockout, counters."""
        s = self.session
        lk = s.lockout
        now = self.ticks.ticks_ms()
        return {"state": s.state, "baud": self.baud, "level": s.level, "busy": s.busy(),
                "locked": lk.locked(now), "remaining_s": lk.remaining_s(now), "fails": lk.fails,
                "streak": lk.streak, "frames": s.stats[0], "naks": s.stats[1],
                "errors": s.stats[2], "signons": s.stats[3], "rx": self.rx_bytes,
                "tx": self.tx_bytes, "faults": self.faults + s.faults, "mode_e": self.binary}

    def _init(self, baud):
        self.uart.init(baudrate=baud, bits=self.data_bits, parity=0, stop=1)
        self.baud = baud

    def _write(self, data):
        self.uart.write(data)
        self.tx_bytes += len(data)

    def _flush(self):
        fl = getattr(self.uart, "flush", None)
        if fl is not None:
            fl()

    def _end_binary(self, now):
        self._flush()
        self.binary = False
        self._do(self.session.binary_done(now), now)

    def _do(self, acts, now):
        # by index: write_done() appends the answer's actions to this same list
        i = 0
        while i < len(acts):
            a = acts[i]
            i += 1
            k = a[0]
            if k == F.SEND:
                self.uart.write(a[1])
                self.tx_bytes += len(a[1])
            elif k == F.BAUD:
                self._flush()
                self._init(a[1])
            elif k == F.BINARY:
                if self.hdlc is None:  # cannot happen: the session offers mode E only with a line
                    self._do(self.session.binary_done(now), now)
                    continue
                self._flush()
                self.uart.init(baudrate=a[1], bits=8, parity=None, stop=1)
                self.baud = a[1]
                self.binary = True
                self.hdlc.start(now)
            elif k == F.EVENT:
                if self.events is not None:
                    self.events.add(self.clock.now(), a[1], a[2], a[3])
            elif k == F.LOCKOUT:
                if self.persist_lockout is not None:
                    self.persist_lockout(a[1])
            elif k == F.WRITE:
                self.session.write_done(self.session.registry.write(a[1], a[2]), now)

    def poll(self, now=None):
        """Call every 10-20 ms. now = ticks.ticks_ms() if not given (the normal case)."""
        if now is None:
            now = self.ticks.ticks_ms()
        u = self.uart
        s = self.session
        buf = self._buf
        guard = 8  # bounded work per poll; the rest stays in the UART buffer
        try:
            while guard and u.any():
                guard -= 1
                n = u.readinto(buf)
                if not n:
                    break
                self.rx_bytes += n
                if self.binary:
                    if self.hdlc.receive(buf, n, now, self._wr):
                        self._end_binary(now)
                else:
                    self._do(s.feed(buf, now, n), now)
            if self.binary and self.hdlc.poll(now, self._wr):
                self._end_binary(now)
            self._do(s.poll(now), now)
        except Exception:  # noqa: BLE001 - counted in status()['faults'] (tests check 0)
            # A bug must not take the port down for good (the poll task would die): abandon the
            # session (and a mode E link), back to IDLE at 300 baud, and count it.
            self.faults += 1
            self.binary = False
            try:
                self._do(s.reset(now), now)
            except OSError:
                self._init(300)


def _key_fn(keys):
    """secret(level) from a board key store: optical_pw1 (level 1), optical_key2 (level 2)."""
    def secret(level):
        if keys is None:
            return None
        return keys.get("optical_pw1" if level == 1 else "optical_key2")
    return secret


def _urandom(n):
    import os
    return os.urandom(n)


def make_optical(board, registers, events, clock, persist_lockout=None, registry=None,
                 lockout=None, config=None, hdlc=None):
    """Build the optical port from the board (uart 'optical', line_clock, keys optical_pw1 /
    optical_key2, config['identity'], config['optical'] options), the register table and the
    MeterClock service. Returns the OpticalPort; its `.session.registry` is the Registry other
    services register objects in.

    config['optical'] options (all optional): baud_char ('5'), switch_delay_ms (1000),
    reaction_ms (200), prog_idle_ms (60000), items (readout OBIS list), data_bits (7); wrong-password
    policy when no `lockout` is given: max_fails (3), lockout_s (60, doubling per further lockout),
    lockout_max_s (86400). Protocol timing runs on board.line_clock when the board has one.
    hdlc: an HdlcLine (ports/dlms.py DlmsPort.hdlc()): the identification offers mode E and the
    option select ACK 2 Z 2 hands the line to DLMS over HDLC."""
    cfg = dict((board.config or {}).get("optical", {}))
    if config:
        cfg.update(config)
    ident = (board.config or {}).get("identity", {})
    if lockout is None:
        lockout = Lockout(cfg.get("max_fails", 3), cfg.get("lockout_s", 60),
                          cfg.get("lockout_max_s", 86400))
    if registry is None:
        registry = Registry()
    if registry.fallback is None:
        registry.fallback = ro.register_text_fn(registers)
        registry.fallback_codes = lambda: registers.codes
    objects.register_identity(registry, ident.get("serial", ""), ident.get("equipment_id", ""))
    objects.register_clock(registry, clock)
    readout = ro.Readout(registry, cfg.get("items", ro.DEFAULT_ITEMS))
    session = iec.Session(
        readout.lines, registry, _key_fn(getattr(board, "keys", None)),
        manufacturer=ident.get("manufacturer", "OMT"), ident=ident.get("model", "OMT"),
        address=ident.get("optical_address", ""), baud_char=cfg.get("baud_char", "5"),
        rand=_urandom, lockout=lockout,
        reaction_ms=cfg.get("reaction_ms", 200), switch_delay_ms=cfg.get("switch_delay_ms", 1000),
        prog_idle_ms=cfg.get("prog_idle_ms", 60000), mode_e=hdlc is not None)
    return OpticalPort(board.uart("optical"), session, clock, events, cfg.get("data_bits", 7),
                       ticks=getattr(board, "line_clock", None) or board.clock,
                       persist_lockout=persist_lockout, hdlc=hdlc)
