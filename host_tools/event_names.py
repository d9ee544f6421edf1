"""Human names of the meter's event codes, for host tools (the device keeps only the numbers).

Read from the firmware's own list (firmware/meter/common/events.py): every `NAME = code  # what a
and b mean` line. `name(code)` -> 'power down', `describe(code, a, b)` -> 'credit added (a =
amount (units), b = source ...)'.
"""
import os
import re

_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "meter",
                    "common", "events.py")
_LINE = re.compile(r"^([A-Z][A-Z0-9_]*) = (\d+)(?:\s*#\s*(.*))?$")


def _load():
    codes = {}
    with open(_SRC) as f:
        for ln in f:
            m = _LINE.match(ln.strip())
            if m:
                codes[int(m.group(2))] = (m.group(1).lower().replace("_", " "), m.group(3) or "")
    return codes


CODES = _load()


def name(code):
    return CODES.get(code, ("event %d" % code, ""))[0]


def describe(code, a=0, b=0):
    n, note = CODES.get(code, ("event %d" % code, ""))
    return "%s (a=%d, b=%d%s)" % (n, a, b, "; " + note if note else "")
