# The programming-mode object table of the IEC 62056-21 session: OBIS code -> read function, write
# function, access levels. Reads are pure getters of in-memory values; writes are never called by
# the session itself: it returns a WRITE action and the port applies it (registry.write()).


class Registry:
    """Objects readable (R1) and writable (W1) in programming mode, and the values of the readout.

    register_object(obis, read_fn, write_fn=None, level=1, read_level=1, logged=True)
      read_fn() -> value text ('12:00:00', '000123.456*kWh'); None = write-only (a key): never
      readable. write_fn(text) validates, applies, or raises ValueError(reason) leaving the value as
      it was. `level` is the access level a write needs, `read_level` the one R1 needs (0 = no
      password; only level-0 objects may go into the public readout). logged=False: accepted
      writes of this object log no PARAM_WRITE (e.g. upload chunks, which are no meter parameter).
    write(i, text) -> None, or the reason text of a refused write (the port calls it for a WRITE
      action and hands the result to Session.write_done).
    `fallback(obis) -> text or None` answers reads of anything not registered (the register
    table, see readout.register_text); such values are level-1 readable and read-only.
    Lookup is exact, else by the part after 'A-B:' when the request has no group ('1.8.1')."""

    def __init__(self, fallback=None, fallback_codes=None):
        self.codes = []
        self.readers = []
        self.writers = []
        self.levels = []
        self.read_levels = []
        self.logged = []
        self.fallback = fallback
        self.fallback_codes = fallback_codes  # callable -> iterable of codes, for short lookups

    def register_object(self, obis, read_fn, write_fn=None, level=1, read_level=1, logged=True):
        if obis in self.codes:
            i = self.codes.index(obis)
            self.readers[i], self.writers[i] = read_fn, write_fn
            self.levels[i], self.read_levels[i] = level, read_level
            self.logged[i] = logged
            return i
        self.codes.append(obis)
        self.readers.append(read_fn)
        self.writers.append(write_fn)
        self.levels.append(level)
        self.read_levels.append(read_level)
        self.logged.append(logged)
        return len(self.codes) - 1

    def write(self, i, text):
        """Apply a W1 of object i: None if accepted, else the reason (ERROR:<reason> on the port).
        A write function refuses with ValueError(reason); any other exception is a fault of the
        object's owner, answered INTERNAL (the port counts it) rather than taking the port down."""
        try:
            self.writers[i](text)
        except ValueError as e:
            r = e.args[0] if e.args and isinstance(e.args[0], str) else ""
            return r or "VALUE"
        except Exception:  # noqa: BLE001 - a broken owner must not stop the optical port
            return "INTERNAL"
        return None

    def find(self, obis):
        """Index of a registered object, or -1."""
        try:
            return self.codes.index(obis)
        except ValueError:
            pass
        if ":" in obis:
            return -1
        hit = -1
        for i in range(len(self.codes)):
            c = self.codes[i]
            k = c.find(":")
            if k >= 0 and c[k + 1:] == obis:
                if hit >= 0:
                    return -1  # ambiguous
                hit = i
        return hit

    def resolve_fallback(self, obis):
        """Full code of a fallback object for a (possibly short) code, or None."""
        if self.fallback is None:
            return None
        if ":" in obis or self.fallback_codes is None:
            return obis
        hit = None
        for c in self.fallback_codes():
            k = c.find(":")
            if c == obis or (k >= 0 and c[k + 1:] == obis):
                if hit is not None:
                    return None
                hit = c
        return hit

    def read_public(self, obis):
        """Value text of a level-0 registered object or of a fallback object (the readout view),
        or None."""
        i = self.find(obis)
        if i >= 0:
            if self.read_levels[i] == 0 and self.readers[i] is not None:
                return self.readers[i]()
            return None
        if self.fallback is not None:
            return self.fallback(obis)
        return None
