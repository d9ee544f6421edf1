# The clock service and the tariff wired the way the app wires them: clock.tz and clock validity
# feed the tariff; clock.set() steps reach the metering through the clock hooks, which (like
# Metering.clock_adjusted) close the energy at the old time and go on from the new one.
# mp-heap: 256K
from mptest import eq
from meter.services import clock as mc
from meter.common import timezone as tzm
from meter.cores.tariff import engine as tf
from meter.cores.tariff import calendar as tcal
from meter.common import timeutil as tu
from meter.common import events as ev
from meter.common.events import EventLog


class Board:
    def __init__(self, t, valid=True):
        self.t = t
        self.valid = valid

    def time(self):
        return self.t

    def set_time(self, t):
        self.t = t
        self.valid = True


def make(t, valid=True, state=None):
    with open("firmware/config/tariff.json") as f:
        text = f.read()
    log = EventLog()
    import json
    board = Board(t, valid)
    clock = mc.MeterClock(board, log, json.loads(text).get("clock"))
    if state is not None:
        clock.load_from(state)
    clock.start()
    tariff = tf.Tariff(tcal.load_json(text), clock.tz, log, clock)
    tariff.prev = clock.now()  # the metering's last tick time (a test stand-in for the metrology)

    def adjusted(old, new):
        tariff.prev = new  # the energy up to `old` was ticked before the step; go on from `new`
    clock.hooks.append(adjusted)
    return board, clock, tariff, log


def run(board, tariff, seconds, out, step=1, per_tick=1):
    """Metering loop: every `step` s the AFE delivers per_tick units, the tariff splits them over
    the tick's interval, as the metrology does."""
    for _ in range(seconds // step):
        board.t += step
        tariff.split(tariff.prev, board.t, per_tick, out)
        tariff.prev = board.t


def test_backward_step_bills_nothing_twice():
    tz = tzm.TimeZone()
    board, clock, tariff, log = make(tz.to_utc(2026, 3, 2, 7, 30))  # Monday 07:30, rate 2
    out = [0] * 8
    run(board, tariff, 1800, out)  # until 08:00
    eq(out[:2], [0, 1800])
    # time sync pulls the clock back 2 hours (to 06:00, rate 1) between two ticks
    clock.set(tz.to_utc(2026, 3, 2, 6, 0), "sync")
    eq(log.get(0)[1], ev.CLOCK_ADJUSTED)
    run(board, tariff, 3600, out)  # 06:00 -> 07:00 again, at rate 1 (the new local time)
    eq(out[:2], [3600, 1800])
    run(board, tariff, 600, out)
    eq(out[:2], [3600, 2400])
    eq(sum(out), 1800 + 3600 + 600)  # energy = what the AFE delivered, no more, no less


def test_forward_step_creates_no_energy():
    tz = tzm.TimeZone()
    board, clock, tariff, log = make(tz.to_utc(2026, 3, 2, 6, 0))
    out = [0] * 8
    run(board, tariff, 900, out, step=900, per_tick=900)
    clock.set(tz.to_utc(2026, 3, 2, 18, 0), "optical")  # +11:45 h
    run(board, tariff, 900, out, step=900, per_tick=900)
    eq(out[:2], [900, 900])


def test_power_cut_without_rtc_invalid_rate_until_set():
    tz = tzm.TimeZone()
    board, clock, tariff, log = make(tz.to_utc(2026, 3, 2, 12, 0))  # peak
    state = bytearray(clock.state_size)
    clock.dump_into(state)
    # power cut; board without RTC backup restarts at 0 and invalid
    board2, clock2, tariff2, log2 = make(0, valid=False, state=state)
    eq(clock2.valid, False)
    eq(board2.t, tz.to_utc(2026, 3, 2, 12, 0))
    eq(log2.get(0)[1], ev.CLOCK_INVALID)
    out = [0] * 8
    run(board2, tariff2, 600, out)
    eq(out[:2], [600, 0])  # invalid_clock_rate = 1 in the NL calendar
    # programming mode sets the real time (the outage lasted 2 h): back to the calendar
    clock2.set(board2.t + 7200, "optical")
    eq(clock2.valid, True)
    run(board2, tariff2, 600, out)
    eq(out[:2], [600, 600])
