# Frozen manifest of the firmware itself, included by every target's manifest
# (boards/rp2040/manifest.py, boards/esp32/manifest.py, tests/qemu/manifest.py).
#
# The whole `meter` package tree is frozen, whatever its subpackages are, except the simulation
# hooks (meter/app/sim.py, driven only by the unix_sim board). Frozen bytecode runs from flash:
# importing the app costs ~23 KB of heap instead of ~190 KB as .py/.mpy (README, "Putting it on a
# real board").
import os

SIM_ONLY = ("app/sim.py",)

files = []
for d, subdirs, names in os.walk("meter"):
    subdirs.sort()
    for n in sorted(names):
        if n.endswith(".py"):
            rel = os.path.relpath(os.path.join(d, n), "meter").replace(os.sep, "/")
            if rel not in SIM_ONLY:
                files.append(rel)
package("meter", files=files)
