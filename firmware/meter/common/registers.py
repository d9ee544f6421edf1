# The meter's register table: one slot per OBIS code.
#
# Every register holds one integer with a fixed unit and decimal scaler: the physical value is
# value * 10**scaler unit. Energy is kept in Wh (scaler -3 on kWh), power in W (scaler -3 on kW),
# voltage in 0.1 V, current in mA. The optical readout, P1 and the wM-Bus application layer are
# views of this one table.
#
# The table is compact: parallel lists indexed by slot, not an object per register. Values stay
# within 31-bit small ints on 32-bit MCUs (999 999 999 Wh = 999 999.999 kWh fits).
#
# Writers (services) resolve a slot once with slot() and then write with set()/add() on their hot
# path, which allocates nothing. Readers (views) use info() or value().


class Registers:
    def __init__(self):
        self._index = {}  # obis str -> slot
        self.codes = []  # slot -> obis str
        self.units = []  # slot -> unit str ('kWh', 'kW', 'V', 'A', 'Hz', 'kvarh', ...)
        self.scalers = []  # slot -> int
        self.values = []  # slot -> int

    def define(self, obis, unit, scaler=0, value=0):
        """Add a register (or return the slot of an existing one with the same definition)."""
        s = self._index.get(obis)
        if s is not None:
            if self.units[s] != unit or self.scalers[s] != scaler:
                raise ValueError("register %s redefined" % obis)
            return s
        s = len(self.codes)
        self._index[obis] = s
        self.codes.append(obis)
        self.units.append(unit)
        self.scalers.append(scaler)
        self.values.append(value)
        return s

    def slot(self, obis):
        s = self._index.get(obis)
        if s is None:
            raise KeyError(obis)
        return s

    def has(self, obis):
        return obis in self._index

    def value(self, obis):
        return self.values[self.slot(obis)]

    def info(self, obis):
        """(value, scaler, unit) of a register; KeyError if there is no such register."""
        s = self.slot(obis)
        return self.values[s], self.scalers[s], self.units[s]

    def set(self, slot, v):
        self.values[slot] = v

    def add(self, slot, dv):
        self.values[slot] += dv

    def __len__(self):
        return len(self.codes)

    def trim(self):
        """Give back the lists' spare room once every register is defined (the app calls it at the
        end of its boot): appending grows a list by doubling, so 77 registers hold room for 128 in
        each of the four lists (~0.8 KB on a 32-bit heap). In place (clear, then one slice
        assignment of a copy, which allocates the exact size): services keep `values`."""
        for lst in (self.codes, self.units, self.scalers, self.values):
            tmp = lst[:]
            lst.clear()
            lst[:] = tmp


def fmt_fixed(value, scaler, int_digits, decimals):
    """Format value*10**scaler with a fixed number of integer digits and decimals (zero padded),
    truncating extra precision toward zero, as DSMR/IEC 62056-21 fixed formats want.
    Negative values get a leading '-' in place of one integer digit."""
    neg = value < 0
    if neg:
        value = -value
    shift = decimals + scaler  # power of ten to multiply the raw value by
    if shift >= 0:
        n = value * (10 ** shift)
    else:
        n = value // (10 ** (-shift))
    s = str(n)
    width = int_digits + decimals
    if len(s) < width:
        s = "0" * (width - len(s)) + s
    if decimals:
        s = s[:-decimals] + "." + s[-decimals:]
    if neg:
        s = "-" + s[1:] if s[0] == "0" else "-" + s
    return s
