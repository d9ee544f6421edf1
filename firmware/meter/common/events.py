# Event codes and the event log ring (timestamps in meter seconds, see timeutil). The human names of
# the codes live on the host (host_tools/event_names.py reads this file): no text on the device.
#
# The log is a fixed-size ring of (t, code, a, b) records kept in preallocated arrays. Persistence is
# done by the storage service (EventStore writes the events added since its last flush).
from array import array

POWER_DOWN = 1
POWER_UP = 2
REGISTERS_RESTORED = 3
STORAGE_CORRUPT = 4  # a = slot/area id
REGISTERS_LOST = 5
CLOCK_ADJUSTED = 6  # a = old time, b = new time
CLOCK_INVALID = 7
COVER_OPEN = 8
COVER_CLOSED = 9
TAMPER = 10
PASSWORD_FAIL = 11  # a = access level
PASSWORD_LOCKOUT = 12  # a = lockout seconds
PARAM_WRITE = 13  # a = old value (int or crc32 of text), b = new value (same)
CALENDAR_ACTIVATED = 14
CALENDAR_REJECTED = 15
VOLTAGE_SAG = 16  # a = phase
VOLTAGE_SWELL = 17  # a = phase
LONG_POWER_FAIL = 18  # a = duration s
BILLING_RESET = 19
PROGRAMMING_SESSION = 20  # a = access level
CALENDAR_PASSIVE = 21  # a = calendar ident (crc32 & 0x3FFFFFFF), b = activation time

# supply control and prepayment (codes 50..69): disconnect control (IC 70) transitions carry
# a = trigger (1 remote disconnect, 2 remote reconnect, 3 manual disconnect, 4 manual reconnect,
# 5 local disconnect, 6 local reconnect, 7 mode change) and b = cause (see services/supply.py)
SUPPLY_DISCONNECTED = 50
SUPPLY_CONNECTED = 51
SUPPLY_READY = 52  # ready for reconnection
RELAY_FAILURE = 53  # a = wanted position (1 closed), b = contact found
LIMITER_OVER = 54  # a = power W, b = active threshold W
LIMITER_UNDER = 55
CREDIT_ADDED = 56  # a = amount (units), b = source (1 STS token, 2 management, 3 test)
CREDIT_LOW = 57  # a = threshold index, b = threshold
CREDIT_EXHAUSTED = 58  # a = available credit
EMERGENCY_CREDIT = 59  # a = amount invoked
PAYMENT_MODE = 60  # a = new payment mode (1 credit, 2 prepayment)
CONTROL_MODE = 61  # a = new disconnect control mode
TOKEN_RESULT = 62  # a = STS result code, b = token class << 4 | subclass
# firmware update (codes 93..99, services/update.py)
UPDATE_REJECTED = 93  # a = reason code (services/update.py R_*), b = the package's counter
UPDATE_SWITCHED = 94  # new firmware installed, trial boot next; a = new counter, b = old counter
UPDATE_CONFIRMED = 95  # trial boot healthy; a = counter, b = ident of a firmware key rotated in (or 0)
UPDATE_ROLLBACK = 96  # a = 1 trial never confirmed (crash/reset), 2 health-check timeout; b = counter
LEGAL_CHANGED = 97  # legally relevant software changed; a = old, b = new checksum ident (28 bits)
STS_KEY_CHANGED = 63  # a = new key revision (KRN), b = base date index (0 1993, 1 2014, 2 2035)
STS_LOCKOUT = 64  # bad tokens locked entry: a = until (meter s), b = doubling level
STS_MANAGEMENT = 65  # a class 2 token carried out: a = subclass, b = its value
# metrology / storage (codes 40..49 reserved for them)
AFE_ERROR = 40  # metering front-end read failed; a = driver error count
CALIBRATION_CHANGED = 41  # restored energy state had other AFE constants; a = old N, b = new N
# DLMS/COSEM server (codes 87..92)
DLMS_AUTH_FAIL = 87  # association refused: wrong password / HLS response; a = client SAP
DLMS_LOCKOUT = 88  # repeated failures locked associations out; a = lockout seconds
DLMS_WRITE = 89  # an attribute written over DLMS; a = class id
DLMS_ACTION = 90  # a method invoked over DLMS; a = class id
DLMS_REPLAY = 91  # a ciphered APDU with an old invocation counter refused; a = client SAP


class EventLog:
    def __init__(self, size=64):
        self.size = size
        self.t = array("i", bytes(4 * size))
        self.code = array("H", bytes(2 * size))
        self.a = array("i", bytes(4 * size))
        self.b = array("i", bytes(4 * size))
        self.count = 0  # total events ever added (the ring holds the last `size`)

    def add(self, t, code, a=0, b=0):
        i = self.count % self.size
        self.t[i] = t
        self.code[i] = code
        self.a[i] = a
        self.b[i] = b
        self.count += 1

    def __len__(self):
        return min(self.count, self.size)

    def get(self, k):
        """k-th newest event (0 = newest) as (t, code, a, b)."""
        if k < 0 or k >= len(self):
            raise IndexError(k)
        i = (self.count - 1 - k) % self.size
        return self.t[i], self.code[i], self.a[i], self.b[i]

    def latest(self, code, n):
        """Up to n newest events with the given code, newest first."""
        out = []
        for k in range(len(self)):
            e = self.get(k)
            if e[1] == code:
                out.append(e)
                if len(out) >= n:
                    break
        return out

    def count_code(self, code):
        c = 0
        for k in range(len(self)):
            if self.code[(self.count - 1 - k) % self.size] == code:
                c += 1
        return c
