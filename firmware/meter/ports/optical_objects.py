# The objects the optical port shows besides the register table: identity and clock, mapped onto
# the meter's services for the IEC 62056-21 registry (reads are getters; writes are applied by the
# port for the session's WRITE actions).
#
#   register_identity(registry, serial, equipment_id)   0-0:C.1.0, 0-0:96.1.1: public, read-only
#   register_clock(registry, meter_clock, level=1)       0-0:1.0.0, 0.9.1, 0.9.2: public, written at
#        `level` through MeterClock.set(t, 'optical') (CLOCK_ADJUSTED a = old, b = new, and the
#        adjust hooks: metrology, tariff, profile, billing), in the clock's own time zone.
from meter.common.text import sanitize
from meter.cores.iec62056_21 import clock_text as ct


def register_identity(registry, serial, equipment_id):
    s = sanitize(str(serial))
    e = sanitize(str(equipment_id))
    registry.register_object("0-0:C.1.0", lambda: s, None, level=2, read_level=0)
    registry.register_object("0-0:96.1.1", lambda: e, None, level=2, read_level=0)


def register_clock(registry, clock, level=1):
    tz = clock.tz

    def w_dt(text):
        clock.set(ct.parse_datetime(text, tz), "optical")

    def w_time(text):
        clock.set(ct.parse_time_of_day(text, tz, clock.now()), "optical")

    def w_date(text):
        clock.set(ct.parse_date(text, tz, clock.now()), "optical")

    registry.register_object("0-0:1.0.0", lambda: ct.datetime_text(tz, clock.now()), w_dt, level, 0)
    registry.register_object("0.9.1", lambda: ct.time_text(tz, clock.now()), w_time, level, 0)
    registry.register_object("0.9.2", lambda: ct.date_text(tz, clock.now()), w_date, level, 0)
