# Frozen manifest of the RP2040 product image: MicroPython 1.25's rp2 port, BOARD=RPI_PICO,
# metercrypto compiled in (firmware/metercrypto/micropython.cmake). Built by `make images`
# (host_tools/rp2040_image.py). Everything runs from flash: main.py starts the meter at boot.
#
# The port's own boards/manifest.py is not included: it pulls micropython-lib drivers (onewire,
# dht, neopixel) that Debian's source package leaves out and the meter does not use.
freeze("$(PORT_DIR)/modules", "rp2.py")
module("_boot.py")  # in place of the port's: littlefs on all but the meter's raw flash region
include("$(MPY_DIR)/extmod/asyncio")
include("../../firmware/manifest.py")
module("main.py", base_path="../../firmware")
module("board.py")
module("mcu.py", base_path="..")
