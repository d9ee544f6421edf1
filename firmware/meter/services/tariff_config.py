# Tariff configuration service: the active and passive calendars on the device's writable config
# dir (kept across power cuts), and writing them through the optical port's programming mode.
#
# Files in config_dir (the board's writable dir: /config on MCUs, the rig's temp dir in simulation)
#   tariff.json          the active calendar, the exact JSON text (the app loads it at boot; without
#                        it, the firmware default config/tariff.json)
#   tariff_passive.json  the scheduled calendar, the exact JSON text
#   tariff_passive.act   its schedule: "P <t_act> <crc32 8 hex>\n" (t_act in meter seconds, crc32
#                        of tariff_passive.json); a passive calendar exists only if both files
#                        exist and the CRC matches
#   tariff.stage         the staging file chunks are appended to (never read at boot: removed)
# Nothing is held in RAM while a calendar arrives: chunks go to the staging file, the CRC is kept
# running, and the commit parses the file as a stream and renames it into place. A commit is a
# rename: atomic on POSIX and littlefs (rp2, esp32), so a power cut leaves the old or the new file,
# never a torn one. On a FAT volume, where rename does not replace, the file is renamed to
# <target>.tmp, the target removed, the .tmp renamed; recover(config_dir) at boot completes that
# (a valid .tmp with no target) and drops other leftovers. Small files (the .act) are written to
# <name>.tmp and renamed the same way.
#
# Passive commit: remove the old .act (the old schedule is gone), rename the staging file to
# tariff_passive.json, write the .act. Promotion (the engine switches calendars at the first
# evaluation at or after t_act; after_tick() sees Tariff.take_promoted()): rename
# tariff_passive.json to tariff.json, remove the .act.
# A cut in between leaves a .act whose JSON is missing: boot drops it. A cut before the rename
# leaves the schedule: boot restores it (t_act <= now) and the first tick promotes it again
# (CALENDAR_ACTIVATED, t = t_act, is then logged a second time).
#
# Programming mode (IEC 62056-21, R1 at level 1, W1 at level 2 = P2), manufacturer-specific codes:
#   C.90.0  R1  active calendar: CRC-32 of its JSON text, 8 hex digits ('00000000' = the built-in
#               fallback calendar)
#   C.90.1  W1  a chunk for the staging file: '[<offset>:]<hex>' or "[<offset>:]'<text>";
#               <offset> (decimal) = byte position of the chunk: the staged length appends, 0
#               starts over, the previous chunk's offset with the same bytes is a harmless repeat
#               (a frame whose ACK was lost); without an offset the chunk is appended. An empty
#               value clears. Text chunks hold printable ASCII except '(' and ')' (the CLI writes
#               those, '!', '/' and non-ASCII as \uXXXX inside JSON strings).
#           R1  staged bytes: '<length>,<crc32 8 hex>'
#   C.90.2  W1  '<crc32 8 hex>': commit the staged text as the active calendar, now. The CRC must
#               match the staged bytes, the text must be complete JSON, the calendar must validate
#               and its "clock" rules (or the defaults when absent) must equal the meter's; else
#               (ERROR:<reason>) and nothing changes.
#           R1  the active calendar's CRC (as C.90.0)
#   C.90.3  W1  '<when>[,<crc32 8 hex>]': commit the staged text as the passive calendar, to
#               become active at <when>: 'YYMMDDhhmmss' (local time; in the repeated hour of October
#               the first pass) or 'next-month' (local midnight on the 1st of next month). The time
#               must be in the future and the clock valid. 'NONE' cancels the passive calendar.
#           R1  '<crc32 8 hex>,<YYMMDDhhmmss local>' or 'NONE'
#   C.90.9  R1  the reason of the last rejection, in full (the W1 error is cut to 32 characters)
# The staged text is at most `limit` bytes (board config "tariff": {"staging_max": N}, default
# 8192); every commit, good or bad, removes it. Events: CALENDAR_ACTIVATED (a = ident = crc32 &
# 0x3FFFFFFF, t = activation), CALENDAR_PASSIVE (a = ident, b = t_act), CALENDAR_REJECTED (a = ident
# of the rejected text, b = 0 active / 1 passive; also a corrupt stored passive calendar at boot),
# PARAM_WRITE from the optical session for commits and the cancel (chunk writes are not logged: the
# staging file is no meter parameter, and 30 chunk events would flush the event ring).
#
# Wiring (app.py):
#   recover(cdir)                                    before the app reads cdir/tariff.json
#   cal, clk = load_file(path, crc, spans)           the calendar at boot, decoded part by part
#   svc = TariffService(tariff, clock, events, cdir, crc, log=board.log, limit=8192, spans=spans)
#                                                    crc: CRC-32 of the file the active calendar came from
#   svc.boot(now)                                    after clock.start(): restores the passive schedule
#   svc.register(optical.session.registry, sync=metering.tick)
#                                                    sync(now) brings the registers up to now before a
#                                                    calendar is swapped (optional)
#   svc.after_tick()                                 after every metering tick (persists a promotion)
#   query 'tariff' -> svc.info()
#   Host tool: python -m host_tools optical tariff PORT FILE.json [--passive WHEN] (cli_tariff.py).
import os
import json
import binascii

from meter.common import events as ev
from meter.common.crc import crc32
from meter.common.files import exists as _exists, remove as _remove, read_bytes as _read, \
    replace as _replace, write_atomic, TMP
from meter.common import files
from meter.common.timezone import NEVER, TimeZone, days_in_month
from meter.common.text import sanitize
from meter.cores.tariff import calendar as tcal

ACTIVE = "tariff.json"
PASSIVE = "tariff_passive.json"
PASSIVE_ACT = "tariff_passive.act"
STAGE = "tariff.stage"
LIMIT = 8192
IDENT_MASK = 0x3FFFFFFF
_BLOCK = 256


def parse_act(data):
    """(t_act, crc) of a .act file's contents; ValueError if it is not valid."""
    if data is None:
        raise ValueError("missing")
    p = data.decode().split()
    if len(p) != 3 or p[0] != "P" or len(p[2]) != 8:
        raise ValueError("bad schedule")
    t_act = int(p[1])
    if not 0 < t_act < NEVER:
        raise ValueError("bad time")
    return t_act, int(p[2], 16)


def _decode(f, a, b):
    f.seek(a)
    try:
        return json.loads(f.read(b - a))
    except UnicodeError:  # before ValueError: a subclass of it
        raise ValueError("tariff: text is not UTF-8")
    except ValueError as e:
        raise ValueError("tariff: not valid JSON (%s)" % (e,))


def load_file(path, crc, spans=None):
    """Calendar from a JSON file and the decoded object's "clock" rules (dict or None); ValueError
    with the reason. Decoded part by part (calendar.CalendarSpans): the text is scanned as a stream
    (completeness, where each top-level value and each special day is), then every part is decoded
    from the file on its own. Neither the text nor the decoded special-day list is ever whole in
    RAM, and no allocation is larger than one part: a 256-day calendar goes into a fragmented
    96 KB heap."""
    st = [0, 0]
    if spans is None:
        spans = tcal.CalendarSpans()
    spans.reset()
    buf = bytearray(_BLOCK)
    mv = memoryview(buf)
    size = 0
    with open(path, "rb") as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            tcal.json_scan(mv[:k], st)
            spans.feed(mv[:k], size)
            size += k
    if not tcal.json_closed(st):
        raise ValueError("tariff: not valid JSON (incomplete text)")
    buf = mv = None
    with open(path, "rb") as f:
        if not spans.usable():
            obj = _decode(f, 0, size)  # anything unusual: whole, for the usual error messages
            if not isinstance(obj, dict):
                raise ValueError("tariff: calendar: must be a JSON object")
            return tcal.from_dict(obj, crc & IDENT_MASK), obj.get("clock")
        sd = spans.special()
        obj = {}
        for i in range(spans.nkeys):
            if i == sd:
                obj["special_days"] = []  # decoded entry by entry below
            else:
                obj[spans.keys[i]] = _decode(f, spans.vstart[i], spans.vend[i])
        cal = tcal.from_dict(obj, crc & IDENT_MASK)
        if sd >= 0:
            n = spans.nstarts
            b = tcal.SpecialDays(cal, n)
            for k in range(n):
                b.add(_decode(f, spans.starts[k], spans.ends[k]), k)
            cal.specials = b.finish()
    return cal, obj.get("clock")


def recover(config_dir):
    """At boot, before anything reads the calendar files: finish a rename a power cut interrupted
    (FAT only: target removed, .tmp left), drop stale temp files and the staging file."""
    _remove(config_dir + "/" + STAGE)
    for name in (ACTIVE, PASSIVE, PASSIVE_ACT):
        path = config_dir + "/" + name
        tmp = path + TMP
        if not _exists(tmp):
            continue
        ok = False
        if not _exists(path):
            try:
                if name == ACTIVE:
                    load_file(tmp, 0)
                elif name == PASSIVE_ACT:
                    parse_act(_read(tmp))
                ok = True  # a passive text is checked against its .act at boot
            except (ValueError, MemoryError, OSError):
                ok = False
        if ok:
            try:
                os.rename(tmp, path)
            except OSError:
                _remove(tmp)
        else:
            _remove(tmp)


def _hex8(x):
    return "%08X" % x


def _short(reason):
    if reason.startswith("tariff: "):
        reason = reason[8:]
    return reason


class TariffService:
    def __init__(self, tariff, clock, events, config_dir, active_crc=None, log=None, limit=LIMIT,
                 spans=None):
        self.tariff = tariff
        self.clock = clock
        self.events = events
        self.dir = config_dir
        self.log = log
        self.limit = limit
        self.active_crc = 0
        if active_crc is not None and (active_crc & IDENT_MASK) == tariff.cal.ident:
            self.active_crc = active_crc
        self.passive_crc = None
        # staging: length, running crc, and the last chunk (offset, length, crc) for repeats
        self.staged = -1  # -1: nothing staged (no staging file)
        self.staged_crc = 0
        self._last = (-1, 0, 0)
        self.last_error = ""
        self.sync = None
        self.writes = 0
        self.store_errors = 0
        # one scanner, its offset arrays allocated at boot (the app's boot parse hands it over)
        self.spans = spans if spans is not None else tcal.CalendarSpans()

    def _path(self, name):
        return self.dir + "/" + name

    def _event(self, t, code, a=0, b=0):
        if self.events is not None:
            self.events.add(t, code, a, b)

    def _say(self, text):
        if self.log is not None:
            try:
                self.log("tariff: " + text)
            except OSError:
                pass  # a full or failing log medium must not stop a calendar write

    # ------------------------------------------------------------------ boot
    def boot(self, now):
        """Restore the passive calendar and its activation time from the config dir."""
        act = self._path(PASSIVE_ACT)
        path = self._path(PASSIVE)
        data = _read(act)
        if data is None:
            _remove(path)  # a text without a schedule: an unfinished commit
            return
        try:
            t_act, crc = parse_act(data)
        except Exception:
            self._event(now, ev.CALENDAR_REJECTED, 0, 1)
            self._say("stored passive schedule is corrupt: dropped")
            self._drop_passive_files()
            return
        fc = files.file_crc(path, crc32)
        if fc is None:  # promoted, but the power went before the schedule was removed
            _remove(act)
            return
        if fc[1] != crc:
            self._event(now, ev.CALENDAR_REJECTED, fc[1] & IDENT_MASK, 1)
            self._say("stored passive calendar is corrupt: dropped")
            self._drop_passive_files()
            return
        try:
            cal = self._validate(path, crc)
        except Exception as e:
            self._event(now, ev.CALENDAR_REJECTED, crc & IDENT_MASK, 1)
            self._say("stored passive calendar rejected: %s" % (e,))
            self._drop_passive_files()
            return
        self.tariff.set_passive(cal, t_act, now, False)
        self.passive_crc = crc

    def _drop_passive_files(self):
        _remove(self._path(PASSIVE_ACT))
        _remove(self._path(PASSIVE))

    # ------------------------------------------------------------------ checks
    def _validate(self, path, crc):
        """Calendar of a JSON file (crc = its CRC-32) with the meter's clock rules; ValueError."""
        cal, clk = load_file(path, crc, self.spans)
        try:
            tz = TimeZone.from_config(clk)
        except ValueError as e:
            raise ValueError("tariff: %s" % e)
        cur = self.clock.tz
        if tz.std != cur.std or tz.shift != cur.shift or tz.rule != cur.rule:
            raise ValueError("tariff: TZ: the calendar's clock rules differ from the meter's")
        return cal

    def _error(self, reason):
        self.last_error = reason
        raise ValueError(reason)

    def _reject(self, now, reason, ident, which):
        reason = _short(reason)
        self.last_error = reason
        self._event(now, ev.CALENDAR_REJECTED, ident, which)
        self._say("calendar rejected: %s" % reason)
        raise ValueError(reason)

    def _clear_stage(self):
        _remove(self._path(STAGE))
        self.staged = -1
        self.staged_crc = 0
        self._last = (-1, 0, 0)

    def _take_staged(self, crc_text, now, which):
        """Check the staged file (CRC, complete JSON, calendar, clock rules) -> (crc, calendar).
        On any error the staging file is removed and ValueError raised."""
        n = self.staged
        c = self.staged_crc
        if n <= 0:
            self._clear_stage()
            self._error("EMPTY: nothing staged")
        if crc_text is not None:
            want = -1
            if len(crc_text) == 8:
                try:
                    want = int(crc_text, 16)
                except ValueError:
                    want = -1
            if want < 0:
                self._clear_stage()
                self._error("SYNTAX: CRC must be 8 hex digits")
            if want != c:
                self._clear_stage()
                self._reject(now, "CRC: staged %d bytes have %s, not %s" % (n, _hex8(c),
                                                                           crc_text.upper()),
                             c & IDENT_MASK, which)
        try:
            cal = self._validate(self._path(STAGE), c)
        except OSError as e:
            self._clear_stage()
            self.store_errors += 1
            self._error("STORAGE: cannot read the staged text (%s)" % (e,))
        except MemoryError:
            self._clear_stage()
            self._error("MEMORY: calendar too large for this meter")
        except ValueError as e:
            self._clear_stage()
            self._reject(now, str(e), c & IDENT_MASK, which)
        return c, cal

    # ------------------------------------------------------------------ staging
    def stage(self, chunk, off=-1):
        """Put bytes at `off` (-1: append) of the staged text; ValueError(reason)."""
        n = self.staged
        if n < 0:
            n = 0
        if off < 0:
            off = n
        lo, ln, lc = self._last
        if off == lo and off + ln == n and len(chunk) == ln and crc32(chunk) == lc:
            return  # the previous frame again (its ACK was lost): already staged
        if off != n and off != 0:
            self._error("OFFSET: have %d bytes" % n)
        if off + len(chunk) > self.limit:
            self._error("SIZE: at most %d bytes" % self.limit)
        path = self._path(STAGE)
        try:
            with open(path, "wb" if off == 0 else "ab") as f:
                f.write(chunk)
        except OSError as e:
            self._clear_stage()
            self.store_errors += 1
            self._error("STORAGE: cannot stage (%s)" % (e,))
        cc = crc32(chunk)
        self.staged_crc = cc if off == 0 else crc32(chunk, self.staged_crc)
        self.staged = off + len(chunk)
        self._last = (off, len(chunk), cc)

    # ------------------------------------------------------------------ changes (also API)
    def set_active(self, text, now, crc_text=None):
        """Make a JSON text (str or bytes) the active calendar now (stored first). ValueError with
        the reason, and nothing changed, if it is bad or cannot be stored."""
        self._clear_stage()
        self.stage(text.encode() if isinstance(text, str) else text, 0)
        return self._commit_active(now, crc_text)

    def set_passive(self, text, t_act, now, crc_text=None):
        """Schedule a JSON text (str or bytes) to become active at t_act (meter seconds)."""
        self._clear_stage()
        self.stage(text.encode() if isinstance(text, str) else text, 0)
        return self._commit_passive(t_act, now, crc_text)

    def _commit_active(self, now, crc_text):
        c, cal = self._take_staged(crc_text, now, 0)
        try:
            _replace(self._path(STAGE), self._path(ACTIVE))
        except OSError as e:
            self._clear_stage()
            self.store_errors += 1
            self._error("STORAGE: cannot write %s (%s)" % (ACTIVE, e))
        self._clear_stage()
        self.writes += 1
        if self.sync is not None:
            try:
                self.sync(now)
            except Exception as e:  # noqa: BLE001 - logged; the activation below must still happen
                self._say("sync before activation failed: %r" % (e,))
        self.tariff.activate(cal, now)
        self.active_crc = c
        self.last_error = ""
        return cal

    def _commit_passive(self, t_act, now, crc_text):
        c, cal = self._take_staged(crc_text, now, 1)
        try:
            _remove(self._path(PASSIVE_ACT))  # from here on the old schedule is gone
            _replace(self._path(STAGE), self._path(PASSIVE))
            write_atomic(self._path(PASSIVE_ACT), ("P %d %s\n" % (t_act, _hex8(c))).encode())
        except OSError as e:
            self._clear_stage()
            self._drop_passive_files()
            self.tariff.set_passive(None, 0, now)
            self.passive_crc = None
            self.store_errors += 1
            self._error("STORAGE: cannot write the passive calendar (%s)" % (e,))
        self._clear_stage()
        self.writes += 1
        self.tariff.set_passive(cal, t_act, now)
        self.passive_crc = c
        self.last_error = ""
        return cal

    def cancel_passive(self, now):
        act = self._path(PASSIVE_ACT)
        try:
            os.remove(act)
        except OSError:
            if _exists(act):
                self._error("STORAGE: cannot remove %s" % PASSIVE_ACT)
        _remove(self._path(PASSIVE))
        self.tariff.set_passive(None, 0, now)
        self.passive_crc = None

    def after_tick(self):
        """After each metering tick: if the engine promoted the passive calendar, make the files
        say so (the engine itself never touches storage)."""
        if self.tariff.take_promoted() is None:
            return
        crc = self.passive_crc
        self.passive_crc = None
        self.active_crc = crc if crc is not None else 0
        try:
            _replace(self._path(PASSIVE), self._path(ACTIVE))
            self.writes += 1
        except OSError as e:
            self.store_errors += 1
            self._say("cannot store the activated calendar: %s" % (e,))
        _remove(self._path(PASSIVE_ACT))

    # ------------------------------------------------------------------ programming mode
    def register(self, registry, sync=None, level=2, read_level=1):
        """Add the C.90.x objects to an iec62056_21 Registry (chunk writes are not logged: see the
        module doc)."""
        self.sync = sync
        reg = registry.register_object
        reg("C.90.0", self.r_active, None, level, read_level)
        reg("C.90.1", self.r_staged, self.w_chunk, level, read_level, logged=False)
        reg("C.90.2", self.r_active, self.w_commit, level, read_level)
        reg("C.90.3", self.r_passive, self.w_passive, level, read_level)
        reg("C.90.9", self.r_error, None, level, read_level)

    def r_active(self):
        return _hex8(self.active_crc)

    def r_staged(self):
        if self.staged < 0:
            return "0,00000000"
        return "%d,%s" % (self.staged, _hex8(self.staged_crc))

    def r_passive(self):
        if self.passive_crc is None or self.tariff.passive is None:
            return "NONE"
        y, mo, d, h, mi, s, _, _ = self.clock.local(self.tariff.activation)
        return "%s,%02d%02d%02d%02d%02d%02d" % (_hex8(self.passive_crc), y % 100, mo, d, h, mi, s)

    def r_error(self):
        return sanitize(self.last_error, 200)

    def w_chunk(self, value):
        if not value:
            self._clear_stage()
            return
        off = -1
        if value[0] != "'":
            k = value.find(":")
            if k >= 0:
                o = value[:k]
                if not o or not o.isdigit() or len(o) > 6:
                    self._error("SYNTAX: offset")
                off = int(o)
                value = value[k + 1:]
        if value[:1] == "'":
            chunk = value[1:].encode()
        else:
            try:
                chunk = binascii.unhexlify(value)
            except ValueError:
                self._error("SYNTAX: hex")
        self.stage(chunk, off)

    def w_commit(self, value):
        self._commit_active(self.clock.now(), value)

    def w_passive(self, value):
        now = self.clock.now()
        if value.upper() == "NONE":
            self.cancel_passive(now)
            return
        when, _, crc_text = value.partition(",")
        if not crc_text:
            crc_text = None
        if when == "next-month":
            t_act = self.clock.tz.next_month_start(now)
        else:
            t_act = self._parse_when(when)
        self.check_activation(t_act, now)
        self._commit_passive(t_act, now, crc_text)

    def check_activation(self, t_act, now):
        """The rules for a passive calendar's activation time (optical C.90.3 and DLMS IC 20):
        ValueError(reason) unless the clock is valid and t_act is in the future."""
        if not self.clock.valid:
            self._error("CLOCK: invalid; set the clock first")
        if t_act <= now:
            self._error("PAST: activation must be after now")

    def _parse_when(self, s):
        if len(s) != 12 or not s.isdigit():
            self._error("SYNTAX: want YYMMDDhhmmss or next-month")
        y = 2000 + int(s[0:2])
        mo = int(s[2:4])
        d = int(s[4:6])
        h = int(s[6:8])
        mi = int(s[8:10])
        se = int(s[10:12])
        if not (1 <= mo <= 12 and 1 <= d <= days_in_month(y, mo) and h < 24 and mi < 60 and se < 60):
            self._error("SYNTAX: no such date/time %s" % s)
        return self.clock.local_to_utc(y, mo, d, h, mi, se)

    # ------------------------------------------------------------------ views
    def info(self):
        t = self.tariff
        return {"active": _hex8(self.active_crc), "ident": t.cal.ident, "name": t.cal.name,
                "passive": None if self.passive_crc is None else _hex8(self.passive_crc),
                "activation": t.activation if t.passive is not None else None,
                "staged": max(0, self.staged), "last_error": self.last_error,
                "writes": self.writes, "store_errors": self.store_errors, "mem_free": _mem_free()}


def _mem_free():
    import gc
    gc.collect()
    return gc.mem_free()
