# Frozen manifest of the ESP32 product image (ESP32-DevKitC / WROOM-32, 4 MB flash): MicroPython
# 1.25's esp32 port with this directory as BOARD_DIR (see boards/esp32/README.md). NOT built or
# tested here (no ESP-IDF on this machine). Everything runs from flash: main.py starts the meter.
include("$(PORT_DIR)/boards/manifest.py")  # the port's modules (_boot.py, inisetup.py), asyncio
include("../../firmware/manifest.py")
module("main.py", base_path="../../firmware")
module("board.py")
module("mcu.py", base_path="..")
