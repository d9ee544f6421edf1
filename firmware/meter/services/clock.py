# Meter clock service: reads and sets the board clock; validity, events, adjust hooks, persistence.
#
#   MeterClock(board_clock, events, config=None)
#
# The clock's time-zone rules are the meter's one TimeZone (common/timezone.py), built from the
# "clock" object of the tariff calendar JSON: `clock.tz` is passed to everything that needs local
# time (tariff, billing, load profile, P1, optical).
#
# Configuration: the TimeZone keys (see common/timezone.py) plus
#   "rtc_back_tolerance_s": at boot, a board clock more than this many seconds behind the last
#          saved time is treated as a failed RTC (default 5)
#
# Wiring (the app):
#   clock = MeterClock(board.clock, events, cfg.get("clock"))
#   clock.load_from(buf)   # if storage has the clock section (state_size bytes)
#   clock.start()          # once at boot, after load_from: decides validity, restores time
#   clock.hooks.append(fn)  # fn(old, new) for each service that must see a step, e.g. metrology:
#                           #   lambda old, new: (m.tick(old), m.clock_adjusted(old, new))
#   storage: clock.dump_into(buf) whenever it journals (buf has clock.state_size bytes)
#   optical/time sync:  clock.set(t_new, "optical" | "sync" | "board")
#
# Validity: after a power cut on a board without RTC backup (board_clock.valid False), start()
# restores the last saved time onto the board clock and marks the meter clock invalid
# (events.CLOCK_INVALID, a = board time found, b = restored time). It also does so if the board
# clock is more than rtc_back_tolerance_s behind the saved time (a failed RTC battery). The
# invalid flag is persisted in the state section, so it survives further power cuts, and is only
# cleared by set(). While invalid, the tariff bills into its calendar's invalid_clock_rate.
#
# set(t_new, source): steps the board clock, marks the clock valid, logs events.CLOCK_ADJUSTED
# (t = new, a = old, b = new) and calls every hook on_adjust(old, new) (errors in one hook do not
# stop the others; they are counted in hook_errors). Setting the time it already has on a valid
# clock changes nothing and logs nothing.
import struct

from meter.common import events as ev
from meter.common.timezone import TimeZone, NEVER

SOURCES = ("board", "optical", "sync", "rig", "restore")


class MeterClock:
    state_size = 8
    _VERSION = 1

    def __init__(self, board_clock, events, config=None):
        self.tz = TimeZone.from_config(config)
        self.tolerance = (config or {}).get("rtc_back_tolerance_s", 5)
        self.board = board_clock
        self.events = events
        self.hooks = []  # callables on_adjust(old, new)
        self.hook_errors = 0
        self.valid = bool(getattr(board_clock, "valid", True))
        self.saved = -1  # last saved time from the state section (-1: none)
        self._saved_valid = True
        self.last_source = None
        self.last_adjust = None  # (old, new) of the latest set()

    # -- time
    def now(self):
        return self.board.time()

    def dst(self, t=None):
        return self.tz.dst(self.board.time() if t is None else t)

    def offset(self, t=None):
        return self.tz.offset(self.board.time() if t is None else t)

    def local(self, t=None):
        """(Y, M, D, hh, mm, ss, weekday 1=Mon..7, dst) local time at t (default now)."""
        return self.tz.local(self.board.time() if t is None else t)

    def dsmr_timestamp(self, t=None):
        """DSMR TST 'YYMMDDhhmmssX', X = 'S' in summer time, 'W' in winter time."""
        y, mo, d, h, mi, s, _, dst = self.local(t)
        return "%02d%02d%02d%02d%02d%02d%s" % (y % 100, mo, d, h, mi, s, "S" if dst else "W")

    def iso(self, t=None):
        """'YYYY-MM-DD hh:mm:ss' local time (IEC 62056-21 readout)."""
        y, mo, d, h, mi, s, _, _ = self.local(t)
        return "%04d-%02d-%02d %02d:%02d:%02d" % (y, mo, d, h, mi, s)

    def local_to_utc(self, y, m, d, hh=0, mm=0, ss=0):
        return self.tz.to_utc(y, m, d, hh, mm, ss)

    # -- setting
    def set(self, t_new, source="board"):
        """Step the clock to t_new (meter seconds UTC). Returns True if anything changed."""
        if type(t_new) is not int or t_new < 0 or t_new > NEVER:
            raise ValueError("clock: bad time %r" % (t_new,))
        old = self.board.time()
        was_valid = self.valid
        self.board.set_time(t_new)
        self.valid = True
        self.last_source = source
        if old == t_new and was_valid:
            return False
        self.last_adjust = (old, t_new)
        if self.events is not None:
            self.events.add(t_new, ev.CLOCK_ADJUSTED, old, t_new)
        for h in self.hooks:
            try:
                h(old, t_new)
            except Exception:
                self.hook_errors += 1
        return True

    # -- boot
    def start(self):
        """Decide validity once at boot (after load_from). Returns self.valid."""
        t = self.board.time()
        board_ok = bool(getattr(self.board, "valid", True))
        saved = self.saved
        lost = (not board_ok) or (saved >= 0 and t < saved - self.tolerance)
        if lost:
            restored = saved if saved >= 0 else t
            if restored != t:
                self.board.set_time(restored)
            if self.events is not None:
                self.events.add(restored, ev.CLOCK_INVALID, t, restored)
            self.valid = False
        else:
            # a clock that was invalid when last saved stays invalid until set()
            self.valid = self._saved_valid
        self._saved_valid = self.valid
        return self.valid

    # -- persistence (the storage service journals this fixed-size section)
    def dump_into(self, buf, offset=0):
        """Write the state (version, validity, current time as 'last saved time') into buf."""
        t = self.board.time()
        struct.pack_into("<BBHI", buf, offset, self._VERSION, 1 if self.valid else 0, 0, t)
        self.saved = t

    def load_from(self, buf, offset=0):
        """Read a state section written by dump_into. Returns False (and changes nothing) if it is
        not a valid section."""
        if len(buf) - offset < self.state_size:
            return False
        ver, flags, _, t = struct.unpack_from("<BBHI", buf, offset)
        if ver != self._VERSION or flags > 1 or t > NEVER:
            return False
        self.saved = t
        self._saved_valid = flags == 1
        return True
