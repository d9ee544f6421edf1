# Boot selector of the A/B firmware slots: the fixed part beside main.py (like a bootloader it is
# never swapped by an update). It runs before anything of the meter is imported and puts the
# active slot's directory first on sys.path.
#
# <root>/boot holds one line "<active> <previous> <state> <tries>", slots "a" | "b", state
#   ok     confirmed firmware: boot <active>
#   trial  first boots of new firmware: <tries> counts them; the meter writes "ok" once healthy
#          (services/update.py). A trial that was already started max_trials times and never
#          confirmed (crash, watchdog reset, power cut, failed health check) boots <previous>
#          instead, with state "rb" so the meter logs the rollback.
#   rb     rolled back, not yet logged
# No file (a source tree, the rig's default boot): nothing to select. The pointer is rewritten
# as <root>/boot.tmp + rename, atomic on littlefs and POSIX: a cut leaves the old or the new line.
# (Not meter.common.files.write_atomic: the meter package is not importable before the slot is.)
import os
import sys

ROOT = "fw"
SLOTS = ("a", "b")


def read(root=ROOT):
    """(active, previous, state, tries) or None (no or unreadable pointer)."""
    try:
        with open(root + "/boot") as f:
            p = f.read().split()
    except OSError:
        return None
    if len(p) != 4 or p[0] not in SLOTS or p[1] not in SLOTS or p[2] not in ("ok", "trial", "rb") \
            or not p[3].isdigit():
        return None
    return p[0], p[1], p[2], int(p[3])


def write(root, active, prev, state, tries, opener=open, rename=os.rename):
    tmp = root + "/boot.tmp"
    with opener(tmp, "wb") as f:
        f.write(("%s %s %s %d\n" % (active, prev, state, tries)).encode())
    rename(tmp, root + "/boot")


def select(root=ROOT, max_trials=1, path=None):
    """Choose the slot to boot, persist the trial count, put the slot on `path` (sys.path).
    Returns the slot or None."""
    p = read(root)
    if p is None:
        return None
    active, prev, state, tries = p
    if state == "trial":
        if tries >= max_trials:
            active, prev, state, tries = prev, active, "rb", 0  # never confirmed: roll back
        else:
            tries += 1  # counted before the new code runs: a crash loop cannot skip it
        write(root, active, prev, state, tries)
    base = root if root.startswith("/") else (os.getcwd().rstrip("/") + "/" + root)
    (sys.path if path is None else path).insert(0, base + "/" + active)
    return active
