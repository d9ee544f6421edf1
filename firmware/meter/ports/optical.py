# The optical port service: moves bytes between the optical UART and the IEC 62056-21 session.
#
# Wiring (app.py):
#
#   from meter.ports.optical import make_optical
#   optical = make_optical(board, registers, events, registry=None, lockout=None, config=None,
#                          meter_clock=clock)      # clock = the MeterClock service
#   # registry: an iec62056_21.Registry if other services register objects (tariff tables,
#   #   prepayment parameters, relay command: registry.register_object(obis, read_fn, write_fn,
#   #   level)); make_optical creates one if None and adds the identity and clock objects.
#   # lockout persistence (so a power cut never resets the wrong-password counter):
#   #   optical.lockout.load(saved_bytes)  at start-up, before the first poll (ValueError if bad)
#   #   optical.lockout.on_change = lambda: storage.save("optical", optical.lockout_record())
#   #   on_change is called synchronously before an answer goes out; it must persist at once.
#   tasks.append(optical.run())          # or call optical.poll() every 10-20 ms
#   optical.status()                     # dict for diagnostics (the rig's query('optical'))
#
# or by hand:  OpticalService(uart, session, clock, events, ticks=None) with a Session built as in
# make_optical.
#
# Time: protocol timing (reaction time, baud switch delay, timeouts, the lockout countdown) runs on
# `ticks.ticks_ms()`; event stamps on `clock.time()`. make_optical passes board.line_clock as
# `ticks` when the board has one: the unix_sim board's real-time ms, because the wire and the
# peer on the optical port run in real time even when the rig freezes or accelerates virtual time
# (Rig(time_rate=0), advance()). MCU boards have no line_clock: their clock.ticks_ms() is real time.
# Always let the service read its own ticks (poll() without an argument); a lockout record must be
# dumped with the same ticks (lockout_record()).
#
# poll(now_ms) reads what the UART holds (any()/readinto() into a preallocated 64-byte buffer, no
# allocation per byte), feeds the session and executes its actions in order:
#   SEND -> uart.write(data)
#   BAUD -> uart.flush() where the port has it (rp2, esp32: waits for the last stop bit; the session
#           only asks once its own estimate says the line is idle, so this normally returns at
#           once), then uart.init(baudrate=b, bits=7, parity=0, stop=1)
# MicroPython UART line settings: parity 0 = even, 1 = odd, None = none. On rp2 and esp32 `bits`
# counts data bits without the parity bit, so 7E1 is bits=7, parity=0 (the default here). On stm32
# `bits` includes the parity bit: pass data_bits=8 there.
#
# Events from the session (wrong password, lockout, parameter writes, programming sessions) go to
# the EventLog stamped with clock.time().
from meter.cores.iec62056_21 import session as iec
from meter.cores.iec62056_21 import readout as ro


class OpticalService:
    def __init__(self, uart, session, clock, events, data_bits=7, rxbuf=64, ticks=None):
        self.uart = uart
        self.session = session
        self.clock = clock
        self.ticks = ticks if ticks is not None else clock
        self.events = events
        self.data_bits = data_bits
        self._buf = bytearray(rxbuf)
        if session.log is None:
            session.log = self.log_event
        self.baud = 300
        self.tx_bytes = 0
        self.rx_bytes = 0
        self.faults = 0  # exceptions caught in poll() (none expected)
        self._init(300)

    @property
    def lockout(self):
        return self.session.lockout

    def ticks_ms(self):
        return self.ticks.ticks_ms()

    def lockout_record(self):
        """The 8-byte lockout record to persist (Lockout.dump at the protocol ticks)."""
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
                "tx": self.tx_bytes, "faults": self.faults}

    def log_event(self, code, a=0, b=0):
        if self.events is not None:
            self.events.add(self.clock.time(), code, a, b)

    def _init(self, baud):
        self.uart.init(baudrate=baud, bits=self.data_bits, parity=0, stop=1)
        self.baud = baud

    def _do(self, acts):
        for a in acts:
            if a[0] == iec.SEND:
                self.uart.write(a[1])
                self.tx_bytes += len(a[1])
            elif a[0] == iec.BAUD:
                fl = getattr(self.uart, "flush", None)
                if fl is not None:
                    try:
                        fl()
                    except Exception:
                        pass
                self._init(a[1])

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
                self._do(s.feed(buf, now, n))
            self._do(s.poll(now))
        except Exception:
            # A bug must not take the port down for good (the poll task would die): abandon the
            # session, back to IDLE at 300 baud, and count it (status()['faults'], tests check 0).
            self.faults += 1
            try:
                self._do(s.reset(now))
            except Exception:
                self._init(300)

    async def run(self, period_ms=10):
        ticks = self.ticks
        while True:
            self.poll(ticks.ticks_ms())
            await ticks.sleep_ms(period_ms)


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


def make_optical(board, registers, events, registry=None, lockout=None, config=None,
                 meter_clock=None):
    """Build the optical port from the board (uart 'optical', clock, keys optical_pw1 /
    optical_key2, config['identity'], config['optical'] options) and the register table. Returns
    the OpticalService; its `.session.registry` is the Registry other services register objects
    in. meter_clock: the MeterClock service (clock writes then go through MeterClock.set(t,
    'optical'): its time zone, CLOCK_ADJUSTED event and adjust hooks); without it the clock
    objects use the board clock with fixed tz_s/dst rules.

    config['optical'] options (all optional): baud_char ('5'), switch_delay_ms (1000),
    reaction_ms (200), prog_idle_ms (60000), items (readout OBIS list), tz_s (3600), dst (True),
    data_bits (7); wrong-password policy when no `lockout` is given: max_fails (3), lockout_s
    (60, doubling per further lockout), lockout_max_s (86400).
    Protocol timing runs on board.line_clock when the board has one (see the module comment)."""
    cfg = dict((board.config or {}).get("optical", {}))
    if config:
        cfg.update(config)
    ident = (board.config or {}).get("identity", {})
    clock = board.clock
    ticks = getattr(board, "line_clock", None)
    if lockout is None:
        lockout = iec.Lockout(cfg.get("max_fails", 3), cfg.get("lockout_s", 60),
                              cfg.get("lockout_max_s", 86400))
    svc_holder = []

    def log(code, a, b):
        if svc_holder:
            svc_holder[0].log_event(code, a, b)

    if registry is None:
        registry = iec.Registry()
    if registry.fallback is None:
        registry.fallback = ro.register_text_fn(registers)
        registry.fallback_codes = lambda: registers.codes
    ro.register_identity(registry, ident.get("serial", ""), ident.get("equipment_id", ""))
    ro.register_clock(registry, meter_clock if meter_clock is not None else clock, log,
                      cfg.get("tz_s", 3600), cfg.get("dst", True))
    readout = ro.Readout(registry, cfg.get("items", ro.DEFAULT_ITEMS))
    session = iec.Session(
        readout.lines, registry, _key_fn(getattr(board, "keys", None)),
        manufacturer=ident.get("manufacturer", "OMT"), ident=ident.get("model", "OMT"),
        address=ident.get("optical_address", ""), baud_char=cfg.get("baud_char", "5"),
        rand=_urandom, log=log, lockout=lockout,
        reaction_ms=cfg.get("reaction_ms", 200), switch_delay_ms=cfg.get("switch_delay_ms", 1000),
        prog_idle_ms=cfg.get("prog_idle_ms", 60000))
    svc = OpticalService(board.uart("optical"), session, clock, events, cfg.get("data_bits", 7),
                         ticks=ticks)
    svc_holder.append(svc)
    return svc
