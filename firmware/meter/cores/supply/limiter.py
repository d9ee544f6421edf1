# Load limiter, DLMS/COSEM interface class 71 (version 0), sans-I/O.
#
# It watches the import active power (monitored_value: 1-0:1.7.0, in W). threshold_active is the
# emergency threshold while an emergency profile is active, else the normal one. The power must
# stay above the active threshold for min_over_threshold_duration seconds before the over-threshold
# action runs (a local disconnect), and at or below it for min_under_threshold_duration seconds
# before the under-threshold action runs (a local reconnect, if action_under is set). Durations are
# accumulated exactly from the `now` of each tick, so irregular ticks (a fast-forward) count right.
# A threshold of 0 switches the limiter off (nothing is ever over it).
#
# emergency_profile = (id, activation_time, duration): active from activation_time for duration
# seconds if its id is in emergency_profile_group_id_list (Blue Book IC 71 attributes 9, 10, 11).
#
#   lim = Limiter()
#   lim.set_thresholds(normal_w, emergency_w)       ValueError outside 0..MAX_W (nothing changes)
#   lim.set_durations(over_s, under_s)               ValueError outside 0..86400
#   lim.set_emergency(profile_id, activation_t, duration_s, group_ids)
#   lim.tick(now, power_w) -> OVER (disconnect now), UNDER (reconnect now) or 0
#   lim.record() / lim.load(record)                  the persisted configuration and state
# The STS "maximum power limit" management token sets the normal threshold through
# set_thresholds (it is the same object).
import struct

try:
    from micropython import const
except ImportError:  # CPython (host-side tests)
    def const(x):
        return x

OVER = const(1)
UNDER = const(2)
MAX_W = const(10000000)  # 10 MW: any threshold a meter can carry
_FMT = "<IIIIiIHBBB"  # normal, emergency, over_s, under_s, em_t, em_dur, em_id, flags, ngroups, _
RECORD = struct.calcsize(_FMT) + 8 * 2  # + up to 8 group ids (u16)


class Limiter:
    def __init__(self, normal=0, emergency=0, over_s=60, under_s=60, action_under=True):
        self.threshold_normal = 0
        self.threshold_emergency = 0
        self.set_thresholds(normal, emergency)
        self.min_over_threshold_duration = 0
        self.min_under_threshold_duration = 0
        self.set_durations(over_s, under_s)
        self.action_under = bool(action_under)
        self.emergency_profile = (0, 0, 0)  # (id, activation_time, duration)
        self.emergency_group_ids = []
        self.monitored_value = 0
        self.tripped = False  # the over-threshold action ran and the under one has not yet
        self._over = 0  # seconds over the threshold so far
        self._under = 0
        self._t = -1

    @staticmethod
    def _check(v, hi, what):
        if type(v) is not int or not 0 <= v <= hi:
            raise ValueError("limiter: %s must be 0..%d" % (what, hi))

    def set_thresholds(self, normal, emergency=None):
        self._check(normal, MAX_W, "threshold_normal (W)")
        if emergency is not None:
            self._check(emergency, MAX_W, "threshold_emergency (W)")
            self.threshold_emergency = emergency
        self.threshold_normal = normal

    def set_durations(self, over_s, under_s):
        self._check(over_s, 86400, "min_over_threshold_duration (s)")
        self._check(under_s, 86400, "min_under_threshold_duration (s)")
        self.min_over_threshold_duration = over_s
        self.min_under_threshold_duration = under_s

    def set_emergency(self, profile_id, activation_t, duration_s, group_ids=()):
        self._check(profile_id, 0xFFFF, "emergency profile id")
        self._check(activation_t, 0x3FFFFFFF, "emergency activation time")
        self._check(duration_s, 0x3FFFFFFF, "emergency duration (s)")
        if len(group_ids) > 8:
            raise ValueError("limiter: at most 8 emergency profile group ids")
        for g in group_ids:
            self._check(g, 0xFFFF, "emergency profile group id")
        self.emergency_profile = (profile_id, activation_t, duration_s)
        self.emergency_group_ids = list(group_ids)

    def emergency_active(self, now):
        pid, t0, dur = self.emergency_profile
        return dur > 0 and t0 <= now < t0 + dur and pid in self.emergency_group_ids

    def threshold_active(self, now):
        return self.threshold_emergency if self.emergency_active(now) else self.threshold_normal

    def tick(self, now, power_w):
        self.monitored_value = power_w
        dt = now - self._t if self._t >= 0 and now > self._t else 0
        self._t = now
        thr = self.threshold_active(now)
        if thr > 0 and power_w > thr:
            self._under = 0
            self._over += dt
            if not self.tripped and self._over >= self.min_over_threshold_duration:
                self.tripped = True
                return OVER
            return 0
        self._over = 0
        if self.tripped:
            self._under += dt
            if self._under >= self.min_under_threshold_duration:
                self.tripped = False
                self._under = 0
                return UNDER if self.action_under else 0
        return 0

    def record(self):
        ids = self.emergency_group_ids
        b = bytearray(RECORD)
        pid, t0, dur = self.emergency_profile
        flags = (1 if self.tripped else 0) | (2 if self.action_under else 0)
        struct.pack_into(_FMT, b, 0, self.threshold_normal, self.threshold_emergency,
                         self.min_over_threshold_duration, self.min_under_threshold_duration,
                         t0, dur, pid, flags, len(ids), 0)
        for k in range(len(ids)):
            struct.pack_into("<H", b, struct.calcsize(_FMT) + 2 * k, ids[k])
        return b

    def load(self, rec):
        """Restore a record(); ValueError for a bad one (nothing changes)."""
        if rec is None or len(rec) != RECORD:
            raise ValueError("bad limiter record")
        nt, et, ov, un, t0, dur, pid, flags, n, _ = struct.unpack_from(_FMT, rec, 0)
        if nt > MAX_W or et > MAX_W or ov > 86400 or un > 86400 or n > 8 or flags > 3 or t0 < 0:
            raise ValueError("bad limiter record")
        self.threshold_normal, self.threshold_emergency = nt, et
        self.min_over_threshold_duration, self.min_under_threshold_duration = ov, un
        self.emergency_profile = (pid, t0, dur)
        self.emergency_group_ids = [struct.unpack_from("<H", rec, struct.calcsize(_FMT) + 2 * k)[0]
                                    for k in range(n)]
        self.tripped = bool(flags & 1)
        self.action_under = bool(flags & 2)
        self._over = self._under = 0
        self._t = -1
