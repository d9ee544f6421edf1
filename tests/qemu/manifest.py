# Frozen manifest of the emulated Cortex-M test images (MicroPython's qemu port, MPS2_AN385 and
# MICROBIT; built by host_tools/mcu_images.py): the firmware as on a product image, plus asyncio.
# The port has no `time` or `select`: tests/qemu/ provides test-only stand-ins from the ROMFS.
include("$(MPY_DIR)/extmod/asyncio")
include("../../firmware/manifest.py")
# The port has no C `_asyncio` (MICROPY_PY_ASYNCIO 0): freeze its pure-Python fallback, which the
# asyncio manifest leaves out.
package("asyncio", ("task.py",), base_path="$(MPY_DIR)/extmod", opt=3)
