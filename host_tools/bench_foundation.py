"""Foundation figures: interpreter sizes, firmware boot time on the rig, fast-forward speed."""
import os
import time

from host_tools.rig import Rig, INTERPRETERS


def main():
    print("interpreters (with metercrypto compiled in):")
    for name, path in sorted(INTERPRETERS.items()):
        if os.path.exists(path):
            print("  %-7s %8d bytes  %s" % (name, os.path.getsize(path), os.path.relpath(path)))
    for interp in ("unix", "unix32"):
        t0 = time.monotonic()
        with Rig(time_rate=0, interp=interp) as rig:
            boot = time.monotonic() - t0
            rig.set_load(1, 230.0, 10.0)
            rig.set_load(2, 230.0, 5.0)
            rig.set_load(3, 230.0, 2.0)
            t0 = time.monotonic()
            rig.advance(86400)
            ff = time.monotonic() - t0
            t0 = time.monotonic()
            rig.power_cut()
            rig.power_restore()
            restore = time.monotonic() - t0
        print("  %-7s boot to ready %.2f s; fast-forward 1 day in %.2f s (%.0f virtual s per real s);"
              " power cut + restore %.2f s" % (interp, boot, ff, 86400 / ff, restore))


if __name__ == "__main__":
    main()
