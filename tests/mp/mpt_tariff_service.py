# The tariff configuration service (firmware/meter/services/tariff_config.py) inside MicroPython: staging
# chunks, commits, atomic files in a config dir, the passive calendar across "reboots" (a new
# service on the same dir), promotion, corrupt files, recovery of interrupted writes.
# mp-heap: 256K
import os
import json
import binascii

from mptest import eq, raises
from meter.services import tariff_config as ts
from meter.common import files as FS
from meter.cores.tariff import engine as tf
from meter.cores.tariff import calendar as tcal
from meter.services import clock as mc
from meter.common import timezone as tzm
from meter.common import events as ev
from meter.common.events import EventLog

with open("firmware/config/tariff_3season_4rate.json", "rb") as f:
    SEASONS = f.read()
with open("firmware/config/tariff.json", "rb") as f:
    NL = f.read()
SMALL = (b'{"name":"small","day_profiles":{"d":[["00:00",1],["07:00",2]]},'
         b'"week_profiles":{"w":["d","d","d","d","d","d","d"]},'
         b'"seasons":[{"name":"s","start":"*-01-01","week":"w"}]}')


class Board:
    def __init__(self, t):
        self.t = t
        self.valid = True

    def time(self):
        return self.t

    def set_time(self, t):
        self.t = t
        self.valid = True


def _tmpdir():
    d = "/tmp/mpt_tariff_svc_" + binascii.hexlify(os.urandom(4)).decode()
    os.mkdir(d)
    return d


def _clean(d):
    for n in os.listdir(d):
        os.remove(d + "/" + n)
    os.rmdir(d)


def _files(d):
    return sorted(os.listdir(d))


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def make(d, t, text=NL):
    """What the app does at boot, on config dir d at meter time t."""
    ts.recover(d)
    try:
        text = _read(d + "/" + ts.ACTIVE)
    except OSError:
        pass
    log = EventLog()
    board = Board(t)
    clock = mc.MeterClock(board, log, json.loads(text).get("clock"))
    clock.start()
    tariff = tf.Tariff(tcal.load_json(text), clock.tz, log, clock)
    svc = ts.TariffService(tariff, clock, log, d, ts.crc32(text), None)
    svc.boot(clock.now())
    return board, clock, tariff, svc, log


def codes(log):
    return [log.get(k)[1] for k in range(len(log))]


def crc8(b):
    return "%08X" % ts.crc32(b)


def stage(svc, data, step=50, hexmode=False):
    svc.w_chunk("")
    for k in range(0, len(data), step):
        part = data[k:k + step]
        if hexmode:
            svc.w_chunk("%d:%s" % (k, binascii.hexlify(part).decode()))
        else:
            svc.w_chunk("%d:'%s" % (k, part.decode()))


def test_chunks_offsets_and_limits():
    d = _tmpdir()
    try:
        board, clock, tariff, svc, log = make(d, 100000)
        eq(svc.r_staged(), "0,00000000")
        svc.w_chunk("'abc")  # text, appended
        svc.w_chunk("646566")  # hex, appended
        eq(_read(d + "/tariff.stage"), b"abcdef")
        svc.w_chunk("3:'def")  # the previous frame again (lost ACK): a no-op
        eq(_read(d + "/tariff.stage"), b"abcdef")
        svc.w_chunk("6:'g:h'i")  # ':' and "'" inside text are data
        eq(_read(d + "/tariff.stage"), b"abcdefg:h'i")
        eq(svc.r_staged(), "11," + crc8(b"abcdefg:h'i"))
        eq(str(raises(ValueError, svc.w_chunk, "99:'x")), "OFFSET: have 11 bytes")
        eq(str(raises(ValueError, svc.w_chunk, "3:'DEF")), "OFFSET: have 11 bytes")  # not a repeat
        eq(str(raises(ValueError, svc.w_chunk, "6:'G:H'I")), "OFFSET: have 11 bytes")
        eq(str(raises(ValueError, svc.w_chunk, "0:zz")), "SYNTAX: hex")
        eq(str(raises(ValueError, svc.w_chunk, "abc")), "SYNTAX: hex")
        eq(str(raises(ValueError, svc.w_chunk, "x1:'a")), "SYNTAX: offset")
        eq(svc.r_staged(), "11," + crc8(b"abcdefg:h'i"))  # a refused chunk changes nothing
        svc.w_chunk("0:'new")  # offset 0 starts over
        eq((_read(d + "/tariff.stage"), svc.r_staged()), (b"new", "3," + crc8(b"new")))
        svc.limit = 10
        eq(str(raises(ValueError, svc.w_chunk, "'12345678")), "SIZE: at most 10 bytes")
        svc.w_chunk("")
        eq((svc.r_staged(), _files(d)), ("0,00000000", []))
        svc.w_chunk("'left over")
        ts.recover(d)  # a reboot drops an unfinished staging
        eq(_files(d), [])
    finally:
        _clean(d)


def test_commit_active_exact_file_events():
    d = _tmpdir()
    try:
        t0 = tzm.TimeZone().to_utc(2028, 3, 1, 12, 0)
        board, clock, tariff, svc, log = make(d, t0)
        eq(svc.r_active(), crc8(NL))
        synced = []
        reg = __import__("meter.cores.iec62056_21.registry").cores.iec62056_21.registry.Registry()
        svc.register(reg, synced.append)
        stage(svc, SEASONS, 70, hexmode=True)
        eq(reg.logged[reg.find("C.90.1")], False)  # chunk writes are not events
        svc.w_commit(crc8(SEASONS))
        eq(reg.logged[reg.find("C.90.2")], True)  # the commit is
        eq(synced, [t0])  # registers brought up to now before the swap
        eq(_read(d + "/tariff.json"), SEASONS)
        eq(_files(d), ["tariff.json"])
        eq(svc.r_active(), crc8(SEASONS))
        eq(tariff.cal.name, "Example three-season four-rate")
        eq(log.get(0)[1:], (ev.CALENDAR_ACTIVATED, ts.crc32(SEASONS) & 0x3FFFFFFF, t0))
        eq(svc.r_staged(), "0,00000000")
        eq(tariff.rate_at(t0), 2)  # Wednesday 1 March 12:00, spring: shoulder_work 07-17 rate 2
    finally:
        _clean(d)


def test_rejections_change_nothing():
    d = _tmpdir()
    try:
        t0 = tzm.TimeZone().to_utc(2028, 3, 1, 12, 0)
        board, clock, tariff, svc, log = make(d, t0)
        cal0 = tariff.cal
        n0 = len(log)
        cases = [
            (SMALL.replace(b'",2]', b'",9]'), "day_profiles.d[1]: rate 9 out of 1..8"),
            (SMALL[:-2], "not valid JSON"),
            (SMALL.replace(b'"name"', b'"nam"', 1), "calendar: unknown key 'nam'"),
            (SMALL[:-1] + b',"clock":{"dst":"none"}}', "TZ: the calendar's clock rules differ"),
            (SMALL.replace(b'["00:00",1],', b''), "day_profiles.d"),
            (b'{"name":"\xff"}', ""),
            (b"[1, 2]", "calendar: must be a JSON object"),
        ]
        for data, reason in cases:
            stage(svc, data, 30, hexmode=True)
            e = raises(ValueError, svc.w_commit, crc8(data))
            assert str(e).startswith(reason), (str(e), reason)
            assert tariff.cal is cal0
            eq(log.get(0)[1:], (ev.CALENDAR_REJECTED, ts.crc32(data) & 0x3FFFFFFF, 0))
        eq(svc.r_error(), "calendar: must be a JSON object")
        # CRC mismatch, passive rejections
        stage(svc, SEASONS)
        e = raises(ValueError, svc.w_commit, "12345678")
        assert str(e).startswith("CRC: staged 1830 bytes have"), str(e)
        stage(svc, SMALL.replace(b'",2]', b'",0]'))
        raises(ValueError, svc.w_passive, "next-month," + crc8(SMALL.replace(b'",2]', b'",0]')))
        eq(log.get(0)[1], ev.CALENDAR_REJECTED)
        eq(log.get(0)[3], 1)
        eq(len(log) - n0, len(cases) + 2)
        eq(str(raises(ValueError, svc.w_commit, "00000000")), "EMPTY: nothing staged")
        stage(svc, SMALL)
        eq(str(raises(ValueError, svc.w_commit, "xyz")), "SYNTAX: CRC must be 8 hex digits")
        stage(svc, SMALL)
        eq(str(raises(ValueError, svc.w_passive, "280301000000")), "PAST: activation must be after now")
        eq(str(raises(ValueError, svc.w_passive, "280230000000")),
           "SYNTAX: no such date/time 280230000000")
        eq(str(raises(ValueError, svc.w_passive, "tomorrow")), "SYNTAX: want YYMMDDhhmmss or next-month")
        eq(svc.r_staged(), "%d,%s" % (len(SMALL), crc8(SMALL)))  # a bad time keeps what is staged
        assert tariff.cal is cal0 and tariff.passive is None
        eq(_files(d), ["tariff.stage"])
        eq(codes(log).count(ev.CALENDAR_ACTIVATED) + codes(log).count(ev.CALENDAR_PASSIVE), 0)
    finally:
        _clean(d)


def test_storage_failure_keeps_old():
    d = _tmpdir()
    try:
        board, clock, tariff, svc, log = make(d, 100000)
        cal0 = tariff.cal
        svc.dir = d + "/missing"  # not writable: no such dir
        e = raises(ValueError, stage, svc, SMALL)
        assert str(e).startswith("STORAGE: cannot stage"), str(e)
        eq(svc.r_staged(), "0,00000000")
        assert tariff.cal is cal0
        eq(svc.store_errors, 1)
        eq(codes(log).count(ev.CALENDAR_ACTIVATED), 0)
    finally:
        _clean(d)


def test_passive_survives_reboot_and_promotes_at_midnight():
    d = _tmpdir()
    try:
        tz = tzm.TimeZone()
        t0 = tz.to_utc(2028, 2, 29, 20, 0)
        board, clock, tariff, svc, log = make(d, t0)
        stage(svc, SEASONS, 100)
        svc.w_passive("next-month," + crc8(SEASONS))
        midnight = tz.to_utc(2028, 3, 1)
        eq(svc.r_passive(), crc8(SEASONS) + ",280301000000")
        eq(log.get(0)[1:], (ev.CALENDAR_PASSIVE, ts.crc32(SEASONS) & 0x3FFFFFFF, midnight))
        eq(_files(d), ["tariff_passive.act", "tariff_passive.json"])
        eq(_read(d + "/tariff_passive.json"), SEASONS)
        eq(_read(d + "/tariff_passive.act"), ("P %d %s\n" % (midnight, crc8(SEASONS))).encode())
        # reboot: a new service on the same dir restores the schedule without a new event
        board, clock, tariff, svc, log = make(d, t0 + 600)
        eq(len(log), 0)
        eq(tariff.activation, midnight)
        eq(svc.r_passive(), crc8(SEASONS) + ",280301000000")
        eq(tariff.cal.name, "NL two-rate")
        # the tick across midnight: split exactly there, the files follow
        out = [0] * 8
        tariff.split(midnight - 3600, midnight + 8 * 3600, 9 * 3600, out)
        svc.after_tick()  # as the metering does after every tick
        eq(out[:4], [3600 + 7 * 3600, 3600, 0, 0])  # NL rate 1 to 00:00, shoulder_work 1 to 07:00, 2
        eq(tariff.cal.name, "Example three-season four-rate")
        eq(log.get(0)[1:], (ev.CALENDAR_ACTIVATED, ts.crc32(SEASONS) & 0x3FFFFFFF, midnight))
        eq(_files(d), ["tariff.json"])
        eq(_read(d + "/tariff.json"), SEASONS)
        eq(svc.r_active(), crc8(SEASONS))
        eq(svc.r_passive(), "NONE")
        # a cut after the rename but before the schedule went: boot only tidies up
        ts.write_atomic(d + "/tariff_passive.act", ("P %d %s\n" % (midnight, crc8(SEASONS))).encode())
        board, clock, tariff, svc, log = make(d, midnight + 9 * 3600)
        eq(_files(d), ["tariff.json"])
        eq((len(log), tariff.passive, tariff.cal.name), (0, None, "Example three-season four-rate"))
        # a cut before the rename: boot restores the due schedule, the first tick promotes it
        ts.write_atomic(d + "/tariff.json", NL)
        ts.write_atomic(d + "/tariff_passive.json", SEASONS)
        ts.write_atomic(d + "/tariff_passive.act", ("P %d %s\n" % (midnight, crc8(SEASONS))).encode())
        board, clock, tariff, svc, log = make(d, midnight + 9 * 3600)
        eq((tariff.cal.name, tariff.activation), ("NL two-rate", midnight))
        eq(tariff.rate_at(midnight + 9 * 3600), 2)
        svc.after_tick()
        eq((tariff.cal.name, _files(d)), ("Example three-season four-rate", ["tariff.json"]))
        eq(log.get(0)[1:], (ev.CALENDAR_ACTIVATED, ts.crc32(SEASONS) & 0x3FFFFFFF, midnight))
    finally:
        _clean(d)


def test_cancel_and_explicit_time():
    d = _tmpdir()
    try:
        tz = tzm.TimeZone()
        board, clock, tariff, svc, log = make(d, tz.to_utc(2028, 10, 1, 12, 0))
        stage(svc, SMALL)
        svc.w_passive("281029023000")  # the repeated hour: the first pass (summer time)
        eq(tariff.activation, tz.to_utc(2028, 10, 29, 2, 30))
        eq(tariff.activation, tzm.TimeZone().to_utc(2028, 10, 29, 0, 0) + 2 * 3600 + 1800)
        eq(svc.r_passive(), crc8(SMALL) + ",281029023000")
        svc.w_passive("NONE")
        eq((svc.r_passive(), tariff.passive, _files(d)), ("NONE", None, []))
        stage(svc, SMALL)
        svc.w_passive("281101000000")
        stage(svc, SEASONS)  # a new passive replaces the old one
        svc.w_passive("next-month," + crc8(SEASONS))
        eq(svc.r_passive(), crc8(SEASONS) + ",281101000000")
        eq(_read(d + "/tariff_passive.json"), SEASONS)
        svc.w_passive("NONE")
        svc.w_passive("none")  # cancelling nothing is fine
        # an invalid clock refuses passive schedules
        clock.valid = False
        stage(svc, SMALL)
        eq(str(raises(ValueError, svc.w_passive, "next-month")), "CLOCK: invalid; set the clock first")
    finally:
        _clean(d)


def _put(d, name, data):
    with open(d + "/" + name, "wb") as f:
        f.write(data)


def test_corrupt_passive_files_dropped_at_boot():
    d = _tmpdir()
    try:
        tz = tzm.TimeZone()
        t0 = tz.to_utc(2028, 2, 10)
        act = ("P %d %s\n" % (t0 + 86400, crc8(SMALL))).encode()
        for files in ({"tariff_passive.act": b"P 1 2\n", "tariff_passive.json": SMALL},
                      {"tariff_passive.act": b"garbage", "tariff_passive.json": SMALL},
                      {"tariff_passive.act": act, "tariff_passive.json": SMALL[:-1] + b"]"},
                      {"tariff_passive.act": act, "tariff_passive.json": SMALL[:-2]}):
            for k in files:
                _put(d, k, files[k])
            board, clock, tariff, svc, log = make(d, t0)
            eq((tariff.passive, svc.r_passive(), _files(d)), (None, "NONE", []))
            eq(log.get(0)[1], ev.CALENDAR_REJECTED)
            eq(log.get(0)[3], 1)
        # the CRC matches, but the calendar is bad (written by another firmware version?) or
        # incomplete JSON (which MicroPython's parser would take)
        for bad in (SMALL.replace(b'",2]', b'",9]'), SMALL[:-1]):
            _put(d, "tariff_passive.json", bad)
            _put(d, "tariff_passive.act", ("P %d %s\n" % (t0 + 86400, crc8(bad))).encode())
            board, clock, tariff, svc, log = make(d, t0)
            eq((tariff.passive, _files(d), log.get(0)[1]), (None, [], ev.CALENDAR_REJECTED))
        # a text without a schedule: an unfinished commit, silently removed
        _put(d, "tariff_passive.json", SMALL)
        board, clock, tariff, svc, log = make(d, t0)
        eq((tariff.passive, _files(d), len(log)), (None, [], 0))
    finally:
        _clean(d)


def test_recover_interrupted_writes():
    d = _tmpdir()
    try:
        # stale temp file next to a good target: a commit that was never acknowledged
        _put(d, "tariff.json", SMALL)
        _put(d, "tariff.json.tmp", SEASONS)
        ts.recover(d)
        eq((_files(d), _read(d + "/tariff.json")), (["tariff.json"], SMALL))
        # FAT: the target was removed, the complete temp file not yet renamed
        os.remove(d + "/tariff.json")
        _put(d, "tariff.json.tmp", SEASONS)
        _put(d, "tariff_passive.act.tmp", b"P 5 0000000A\n")
        ts.recover(d)
        eq(_files(d), ["tariff.json", "tariff_passive.act"])
        eq(_read(d + "/tariff.json"), SEASONS)
        os.remove(d + "/tariff_passive.act")
        # a torn or incomplete temp file with no target: dropped (the firmware default is used)
        os.remove(d + "/tariff.json")
        _put(d, "tariff.json.tmp", SEASONS[:-3])
        _put(d, "tariff_passive.act.tmp", b"P 5")
        ts.recover(d)
        eq(_files(d), [])
        board, clock, tariff, svc, log = make(d, 1000)
        eq(tariff.cal.name, "NL two-rate")
        # write_atomic replaces and leaves no temp file
        ts.write_atomic(d + "/x", b"1")
        ts.write_atomic(d + "/x", b"2", b"3")
        eq((_files(d), _read(d + "/x")), (["x"], b"23"))
    finally:
        _clean(d)


def test_incomplete_json_rejected():
    # MicroPython's json takes '{"a": 1' (outermost container cut off); the calendar loader must not
    for cut in (1, 2, 3):
        raises(ValueError, tcal.load_json, SEASONS.rstrip()[:-cut])
    eq(tcal.json_closed(tcal.json_scan(b'{"a":"}]\\"\\\"}"}', [0, 0])), True)
    eq(tcal.json_closed(tcal.json_scan(b'{"a":"}"', [0, 0])), False)
    eq(tcal.json_closed(tcal.json_scan(b'{}}{', [0, 0])), False)
    eq(tcal.json_closed(tcal.json_scan(b'1', [0, 0])), False)
    st = [0, 0]
    for k in range(0, len(SEASONS), 7):
        tcal.json_scan(SEASONS[k:k + 7], st)
    eq(tcal.json_closed(st), True)


class FatOs:
    """os as on a FAT volume: rename does not replace an existing file. cut_at = n: the n-th
    call of rename/remove raises PowerCut before doing anything (the power went)."""

    class PowerCut(Exception):
        pass

    def __init__(self, cut_at=-1):
        self.calls = 0
        self.cut_at = cut_at

    def _step(self):
        self.calls += 1
        if self.calls == self.cut_at:
            raise FatOs.PowerCut()

    def rename(self, a, b):
        self._step()
        try:
            os.stat(b)
            raise OSError(17)  # EEXIST
        except OSError as e:
            if e.args and e.args[0] == 17:
                raise
        os.rename(a, b)

    def remove(self, p):
        self._step()
        os.remove(p)

    def stat(self, p):
        return os.stat(p)


def _set_os(o):
    # the calendar files are renamed by the service and by the shared file helpers
    ts.os = o
    FS.os = o


def test_fat_rename_and_cuts_in_between():
    real = ts.os
    try:
        for cut in range(1, 6):
            d = _tmpdir()
            try:
                board, clock, tariff, svc, log = make(d, 100000)
                ts.write_atomic(d + "/tariff.json", SMALL)  # an older active calendar
                stage(svc, SEASONS, 200)
                _set_os(FatOs(cut))
                try:
                    svc.w_commit(crc8(SEASONS))
                    done = True
                except FatOs.PowerCut:
                    done = False
                _set_os(real)
                if done:
                    eq(_read(d + "/tariff.json"), SEASONS)
                # after the "cut", boot: either the old or the new calendar, never none or torn
                board, clock, tariff, svc, log = make(d, 100000)
                eq(_files(d), ["tariff.json"])
                assert tariff.cal.name in ("small", "Example three-season four-rate"), tariff.cal.name
                if done:
                    eq(tariff.cal.name, "Example three-season four-rate")
            finally:
                _set_os(real)
                _clean(d)
    finally:
        _set_os(real)


def test_calendar_decoded_part_by_part_equals_the_whole():
    # load_file finds the parts with CalendarSpans and decodes them one by one; the result is the
    # calendar a whole-text decode gives, and awkward texts fall back to the whole decode
    import json
    from meter.cores.tariff import calendar as tcal
    d = _tmpdir()
    try:
        with open("firmware/config/tariff.json", "rb") as f:
            nl = f.read()
        obj = json.loads(nl)
        assert len(obj["special_days"]) > 50
        odd = json.loads(nl)
        odd["name"] = "special_days"  # the key's text as a value, before the real key
        odd["note"] = {"special_days": [1, 2]}  # and deeper (not the top-level array)
        odd["version"] = 1
        texts = [nl, json.dumps(odd).encode(), SEASONS, SMALL, b' { "name" : "a\\"b" ,' + nl.strip()[1:]]
        for text in texts:
            path = d + "/cal.json"
            with open(path, "wb") as f:
                f.write(text)
            whole = tcal.from_dict(json.loads(text), 7)
            cal, clk = ts.load_file(path, 7)
            eq(cal.specials, whole.specials)
            eq((cal.name, cal.dp_names, cal.weeks, cal.se_year), (whole.name, whole.dp_names, whole.weeks,
                                                                  whole.se_year))
            eq(clk, json.loads(text).get("clock"))
        sp = tcal.CalendarSpans()
        sp.feed(b'{"special_days": [{"date": "*-12-25", "day": "x"}, 5]}', 0)
        eq(sp.usable(), False)  # not only objects: decoded whole (and refused with the usual reason)
        sp = tcal.CalendarSpans()
        text = b'{"a": "[", "special_days" : [ {"date": "}"} , {"x": [1, {"y": 2}]} ], "b": 1, "c": true}'
        for i in range(0, len(text), 5):
            sp.feed(text[i:i + 5], i)
        eq(sp.usable(), True)
        eq(sp.keys[:sp.nkeys], ["a", "special_days", "b", "c"])
        eq([text[sp.vstart[i]:sp.vend[i]].strip() for i in range(sp.nkeys)][0::2], [b'"["', b"1"])
        eq([text[sp.starts[k]:sp.ends[k]] for k in range(sp.nstarts)],
           [b'{"date": "}"}', b'{"x": [1, {"y": 2}]}'])
        for bad in (b'[1, 2]', b'{"a" 1}', b'{"%s": 1}' % (b"k" * 30), b'{"a": 1 "b": 2}', b'{"a": 1} x',
                    b'{"a": 1,}', b'{1: 2}'):
            sp = tcal.CalendarSpans()
            sp.feed(bad, 0)
            eq(sp.usable(), False, bad)
    finally:
        _clean(d)
