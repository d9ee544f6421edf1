# Disconnect control (IC 70) and load limiter (IC 71) cores. The whole IC 70 table is checked
# against an expectation written here from the table (letters a..h), independent of the
# core's own rule encoding: every mode x trigger x state, and the coil actions exactly when the
# output must change.
from mptest import eq, raises
from meter.cores.supply import disconnect as dc
from meter.cores.supply.limiter import Limiter, OVER, UNDER
from meter.common import events as ev

# transitions: letter -> (trigger, from, to)
T = {"a": (dc.REMOTE_RECONNECT, 0, 1), "b": (dc.REMOTE_DISCONNECT, 1, 0),
     "c": (dc.REMOTE_DISCONNECT, 2, 0), "d": (dc.REMOTE_RECONNECT, 0, 2),
     "e": (dc.MANUAL_RECONNECT, 2, 1), "f": (dc.MANUAL_DISCONNECT, 1, 2),
     "g": (dc.LOCAL_DISCONNECT, 1, 2), "h": (dc.LOCAL_RECONNECT, 2, 1)}
# the table: mode -> letters allowed
ALLOWED = {0: "", 1: "bcfgde", 2: "bcfgae", 3: "bcgde", 4: "bcgae", 5: "bcfgdeh", 6: "bcgdeh"}
TRIGGERS = (dc.REMOTE_DISCONNECT, dc.REMOTE_RECONNECT, dc.MANUAL_DISCONNECT, dc.MANUAL_RECONNECT,
            dc.LOCAL_DISCONNECT, dc.LOCAL_RECONNECT)


def expected(mode, state, trig):
    """New state, or None if the trigger is refused."""
    for letter in ALLOWED[mode]:
        t, frm, to = T[letter]
        if t == trig and frm == state:
            return to
    return None


def make(mode, state, contact=None):
    d = dc.DisconnectControl(mode)
    if mode:
        d.load(bytes((state, mode)))
    d.contact(state == 1 if contact is None else contact)
    return d


def test_whole_ic70_table():
    n = 0
    for mode in range(7):
        for state in ((1,) if mode == 0 else (0, 1, 2)):
            for trig in TRIGGERS:
                d = make(mode, state)
                before = d.record()
                ok, reason = d.trigger(trig, 9)
                want = expected(mode, state, trig)
                if want is None:
                    eq((ok, d.record(), d.actions), (False, before, []), (mode, state, trig))
                    assert reason, (mode, state, trig)
                    continue
                n += 1
                eq(ok, True, (mode, state, trig))
                eq(d.control_state, want)
                switches = [a[1] for a in d.actions if a[0] == dc.SWITCH]
                closed_before = state == 1
                closed_after = want == 1
                # a pulse exactly when the output must change, to the new position
                eq(switches, [closed_after] if closed_after != closed_before else [], (mode, state, trig))
                evs = [a for a in d.actions if a[0] == dc.EVENT]
                eq(len(evs), 1)
                eq(evs[0][1], {0: ev.SUPPLY_DISCONNECTED, 1: ev.SUPPLY_CONNECTED, 2: ev.SUPPLY_READY}[want])
                eq(evs[0][2:], (trig, 9))
    eq(n, sum(len(v) for v in ALLOWED.values()))  # every allowed transition was reached


def test_output_follows_the_contact_not_the_wish():
    d = make(1, 1)
    ok, _ = d.trigger(dc.REMOTE_DISCONNECT)
    eq((ok, d.control_state, d.output_state), (True, 0, True))  # wished, not yet done
    eq(d.contact(True), True)  # the relay did not open: a mismatch
    eq(d.output_state, True)
    eq(d.contact(False), False)
    eq(d.output_state, False)
    # the coils pulse when the wanted position changes, not to chase a contact that did not follow
    # (that is a relay failure, reported by the relay owner): a transition that keeps wanting the
    # same position pulses nothing
    d = make(1, 0, contact=True)  # disconnected (commanded open) but the contact stayed closed
    eq(d.mismatch, True)
    d.trigger(dc.REMOTE_RECONNECT)  # 0 -> 2 in mode 1: still wants open
    eq([a for a in d.actions if a[0] == dc.SWITCH], [])
    # ... and a wish that changes while a pulse is under way (output_state still the old one)
    d = make(1, 1)
    d.trigger(dc.REMOTE_DISCONNECT)
    d.trigger(dc.REMOTE_RECONNECT)  # mode 1: 0 -> 2, still open
    eq([a for a in d.actions if a[0] == dc.SWITCH], [])
    d.trigger(dc.MANUAL_RECONNECT)  # 2 -> 1: close again, although output_state never changed
    eq([a for a in d.actions if a[0] == dc.SWITCH], [(dc.SWITCH, True)])


def test_mode_0_and_bad_input():
    d = make(3, 0)
    raises(ValueError, d.set_mode, 7)
    raises(ValueError, d.set_mode, -1)
    eq(d.control_mode, 3)
    d.set_mode(0)  # mode 0 is always connected: it connects at once
    eq((d.control_state, [a[0] for a in d.actions]), (1, [dc.EVENT, dc.SWITCH]))
    eq(d.trigger(dc.REMOTE_DISCONNECT)[0], False)
    raises(ValueError, d.load, b"\x03\x01")
    raises(ValueError, d.load, b"\x01\x07")
    raises(ValueError, d.load, b"\x01")
    eq(d.record(), b"\x01\x00")
    eq(d.trigger(99), (False, "unknown trigger"))


def test_random_sequences_stay_in_the_table():
    seed = 12345
    for run in range(200):
        mode = run % 7
        d = dc.DisconnectControl(mode)
        d.contact(True)
        state = 1
        for _ in range(30):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            trig = TRIGGERS[seed % 6]
            want = expected(mode, state, trig)
            ok, _ = d.trigger(trig)
            eq(ok, want is not None)
            if ok:
                state = want
                for a in d.actions:
                    if a[0] == dc.SWITCH:
                        d.contact(a[1])  # a working relay
            eq(d.control_state, state)
            eq(d.output_state, state == 1)


def test_limiter_over_under_and_emergency():
    lim = Limiter(normal=5000, emergency=2000, over_s=30, under_s=60)
    t = 1000
    eq(lim.tick(t, 6000), 0)
    for _ in range(29):
        t += 1
        eq(lim.tick(t, 6000), 0)
    t += 1
    eq(lim.tick(t, 6000), OVER)  # 30 s over
    t += 1
    eq(lim.tick(t, 6000), 0)  # once
    for _ in range(59):
        t += 1
        eq(lim.tick(t, 0), 0)
    t += 1
    eq(lim.tick(t, 0), UNDER)
    # an irregular (fast-forward) step counts its whole duration
    lim2 = Limiter(normal=1000, over_s=600, under_s=600)
    lim2.tick(0, 2000)
    eq(lim2.tick(900, 2000), OVER)
    # emergency profile: active for its duration when its id is in the group list
    lim.set_emergency(7, t + 10, 100, [3, 7])
    eq(lim.threshold_active(t), 5000)
    eq(lim.threshold_active(t + 10), 2000)
    eq(lim.threshold_active(t + 110), 5000)
    lim.set_emergency(7, t + 10, 100, [3])
    eq(lim.threshold_active(t + 10), 5000)
    # threshold 0: off
    lim3 = Limiter(normal=0, over_s=0)
    eq(lim3.tick(0, 10 ** 6), 0)


def test_limiter_bad_settings_change_nothing_and_record():
    lim = Limiter(normal=4000, emergency=1000, over_s=10, under_s=20)
    rec = bytes(lim.record())
    for f, args in ((lim.set_thresholds, (-1,)), (lim.set_thresholds, (10 ** 9,)),
                    (lim.set_thresholds, (100, -5)), (lim.set_durations, (86401, 0)),
                    (lim.set_emergency, (1, -1, 5)), (lim.set_emergency, (1, 1, 1, list(range(9))))):
        raises(ValueError, f, *args)
        eq(bytes(lim.record()), rec)
    lim2 = Limiter()
    lim2.load(rec)
    eq(bytes(lim2.record()), rec)
    raises(ValueError, lim2.load, rec[:-1])
    bad = bytearray(rec)
    bad[0:4] = b"\xff\xff\xff\xff"
    raises(ValueError, lim2.load, bytes(bad))
    eq(bytes(lim2.record()), rec)


def test_zero_alloc_per_tick():
    import gc
    lim = Limiter(normal=5000, over_s=30, under_s=30)
    d = make(5, 1)
    lim.tick(0, 0)
    gc.collect()
    a = gc.mem_alloc()
    for t in range(1, 2000):
        lim.tick(t, (t * 37) % 9000)
        d.wants_closed()
    eq(gc.mem_alloc() - a, 0)
