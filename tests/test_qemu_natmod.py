"""tests/mp files on an emulated Cortex-M3 and Cortex-M0 with the armv7m / armv6m metercrypto natmods, through its REPL (MicroPython's qemu port
under qemu-system-arm, driven with mpremote). The selection and the per-target exclusions with their
reasons are in tests/qemu_support.py (QEMU_FILES, NOT_ON_MCU)."""
from qemu_support import make_tests

runner, test_mp = make_tests(("m3-natmod", "m0-natmod"))
