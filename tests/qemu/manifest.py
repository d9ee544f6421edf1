# Frozen manifest of the emulated Cortex-M test images (MicroPython's qemu port, MPS2_AN385 and
# MICROBIT; built by host_tools/mcu_images.py): the firmware as on a product image, plus asyncio.
# The port has no `time` or `select`: tests/qemu/ provides test-only stand-ins from the ROMFS.
include("$(MPY_DIR)/extmod/asyncio")
include("../../firmware/manifest.py")
