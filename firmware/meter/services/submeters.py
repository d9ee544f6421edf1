# Sub-meter source: the M-Bus channels (0-1 .. 0-4) that the P1 telegram shows for gas, water, heat
# or a slave electricity meter.
#
# Interface (duck-typed; the P1 builder only calls channels()):
#
#   source.channels() -> sequence of
#       (channel, device_type, equipment_id, capture_time, value, scaler, unit)
#
#   channel       1..4 (the B group of the OBIS code, 0-n:24.2.1), in installation order
#   device_type   EN 13757-3 device type byte (GAS 3, HEAT 4, WARM_WATER 6, WATER 7, ...)
#   equipment_id  str or bytes: the device's equipment identifier as printable ASCII (P1 shows
#                 it hex-encoded as an octet string); '' when unknown
#   capture_time  meter seconds (UTC since 2020-01-01, see timeutil) of the reading
#   value         int register value; the reading is value * 10**scaler unit
#   scaler        int decimal exponent (-3 for litres -> m3)
#   unit          'm3', 'GJ' or 'kWh'
#
# The sequence should be ordered by channel and hold each channel once. It is read once per
# telegram, so an implementation should return a list it keeps (no new list per call): the builder
# does not keep a reference. The wM-Bus service will implement this interface later; until then
# the rig injects readings through SettableSubmeters.
#
# SettableSubmeters keeps one preallocated tuple per channel and validates every update, so a bad
# value from a radio frame or the rig raises ValueError and leaves the previous reading in place.

GAS = 3
HEAT = 4  # heat meter (outlet)
WARM_WATER = 6
WATER = 7
HEAT_COLD = 0x0D  # combined heat / cooling meter
COLD = 0x0A  # cooling meter (outlet)
ELECTRICITY = 2

UNITS = ("m3", "GJ", "kWh")


class SubmeterSource:
    """The interface (for documentation and isinstance-free duck typing): no channels."""

    def channels(self):
        return ()


class SettableSubmeters(SubmeterSource):
    def __init__(self):
        self._slots = [None, None, None, None]  # channel 1..4
        self._list = []
        self.updates = 0

    def set(self, channel, device_type, equipment_id, capture_time, value, scaler=-3, unit="m3"):
        """Install or update a channel. ValueError on a bad argument (nothing changes)."""
        if type(channel) is not int or not 1 <= channel <= 4:
            raise ValueError("submeter: channel must be 1..4")
        if type(device_type) is not int or not 0 <= device_type <= 255:
            raise ValueError("submeter: device_type must be 0..255")
        if isinstance(equipment_id, str):
            eid = equipment_id
        elif isinstance(equipment_id, (bytes, bytearray)):
            eid = bytes(equipment_id)
        else:
            raise ValueError("submeter: equipment_id must be str or bytes")
        if len(eid) > 48:
            raise ValueError("submeter: equipment_id longer than 48 characters")
        if type(capture_time) is not int or capture_time < 0:
            raise ValueError("submeter: capture_time must be meter seconds >= 0")
        if type(value) is not int:
            raise ValueError("submeter: value must be an int")
        if type(scaler) is not int or not -9 <= scaler <= 9:
            raise ValueError("submeter: scaler must be -9..9")
        if unit not in UNITS:
            raise ValueError("submeter: unit must be one of m3, GJ, kWh")
        self._slots[channel - 1] = (channel, device_type, eid, capture_time, value, scaler, unit)
        self._rebuild()
        self.updates += 1

    def update(self, channel, capture_time, value):
        """New reading for an installed channel (keeps type, id, scaler and unit)."""
        old = self._slots[channel - 1] if type(channel) is int and 1 <= channel <= 4 else None
        if old is None:
            raise ValueError("submeter: channel %r not installed" % (channel,))
        self.set(channel, old[1], old[2], capture_time, value, old[5], old[6])

    def remove(self, channel):
        if type(channel) is int and 1 <= channel <= 4:
            self._slots[channel - 1] = None
            self._rebuild()

    def clear(self):
        for i in range(4):
            self._slots[i] = None
        self._rebuild()

    def _rebuild(self):
        lst = self._list
        lst.clear()
        for s in self._slots:
            if s is not None:
                lst.append(s)

    def channels(self):
        return self._list
