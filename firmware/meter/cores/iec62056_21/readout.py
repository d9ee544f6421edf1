# The IEC 62056-21 data readout: the lines of a mode C readout, from the programming-mode registry
# (level-0 objects) and the register table (the registry's fallback).
#
#   reg = registry.Registry(fallback=register_text_fn(registers),
#                           fallback_codes=lambda: registers.codes)
#   ro = Readout(reg, DEFAULT_ITEMS)
#   Session(readout=ro.lines, registry=reg, ...)
#   (the identity and clock objects are registered by ports/optical_objects.py)
#
# Register values are formatted `value*unit` with the register's own decimals (-scaler) and a fixed
# number of integer digits per unit (DSMR-like: kWh 6.3, kW 2.3, V 3.1, A 3.3, Hz 2.3); counters
# without a unit are zero-padded integers. Items of the readout list that the meter does not have
# (no register, no object) are left out, so one list serves every meter variant.
#
from meter.common.registers import fmt_fixed

# Same data as P1 plus identity and clock. Codes the meter lacks are skipped.
DEFAULT_ITEMS = (
    "0-0:C.1.0", "0-0:96.1.1", "0-0:1.0.0", "0.9.1", "0.9.2",
    "0-0:0.2.0", "0-0:0.2.8", "1-0:0.2.0", "1-0:0.2.8",  # firmware / legal part id (services/update.py)
    "1-0:1.8.0", "1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.0", "1-0:2.8.1", "1-0:2.8.2",
    "1-0:3.8.0", "1-0:4.8.0",
    "0-0:96.14.0",
    "1-0:1.7.0", "1-0:2.7.0",
    "1-0:32.7.0", "1-0:52.7.0", "1-0:72.7.0",
    "1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0",
    "1-0:21.7.0", "1-0:41.7.0", "1-0:61.7.0",
    "1-0:22.7.0", "1-0:42.7.0", "1-0:62.7.0",
    "1-0:14.7.0",
    "0-0:96.7.21", "0-0:96.7.9",
    "0-0:96.3.10", "0-0:17.0.0",
    "0-0:19.0.0", "0-0:19.10.0", "0-0:19.10.1", "0-0:19.20.2",
    "0-1:24.2.1", "0-2:24.2.1", "0-3:24.2.1", "0-4:24.2.1",  # sub-meters (M-Bus channels, OMS)
)

_INT_DIGITS = {"m3": 5, "GJ": 5, "kWh": 6, "kvarh": 6, "Wh": 9, "kW": 2, "kvar": 2, "W": 5, "V": 3, "A": 3, "Hz": 2}


def fmt_value(value, scaler, unit):
    """`value*unit` text of a register (no '*unit' without a unit)."""
    dec = -scaler if scaler < 0 else 0
    if unit:
        return fmt_fixed(value, scaler, _INT_DIGITS.get(unit, 1), dec) + "*" + unit
    if scaler == 0 and value >= 0:
        s = str(value)
        return "0" * (5 - len(s)) + s if len(s) < 5 else s
    return fmt_fixed(value, scaler, 1, dec)


def register_text_fn(registers):
    """fallback(obis) for a Registry: the formatted register, or None if there is none."""
    def text(obis):
        if not registers.has(obis):
            return None
        v, sc, u = registers.info(obis)
        return fmt_value(v, sc, u)
    return text


class Readout:
    """readout lines from a Registry (level-0 objects and the register fallback)."""

    def __init__(self, registry, items=DEFAULT_ITEMS):
        self.registry = registry
        self.items = items

    def lines(self):
        reg = self.registry
        for obis in self.items:
            try:
                v = reg.read_public(obis)
            except Exception:  # noqa: BLE001 - a broken source loses its line, never the readout
                v = None
            if v is not None:
                yield obis + "(" + v + ")"
