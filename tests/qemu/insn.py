# ARM instruction counter of the emulated boards (bench only: host_tools/bench_arm.py). qemu runs
# with -icount shift=0: its virtual clock advances exactly 1 ns per executed instruction, so a
# hardware timer of the emulated SoC counts instructions / (1 ns x timer frequency):
#   MPS2-AN385 (Cortex-M3): CMSDK APB timer 0 at 0x40000000, 25 MHz: one count = 40 instructions
#   micro:bit (Cortex-M0): nRF51 TIMER0 at 0x40008000, 16 MHz, 32-bit: one count = 62.5 instructions
# count(fn, n) runs fn() n times and returns instructions per call, minus the cost of the empty
# measurement (calibrated once); the resolution is one count over n calls.
import sys
from machine import mem32

_M3 = "Cortex-M3" in sys.implementation._machine


def _start():
    if _M3:
        mem32[0x40000000] = 0  # CTRL: stop
        mem32[0x40000008] = 0x3FFFFFFF  # RELOAD (a small int: no big-int allocation)
        mem32[0x40000004] = 0x3FFFFFFF  # VALUE
        mem32[0x40000000] = 1  # CTRL: enable
    else:
        mem32[0x40008004] = 1  # TASKS_STOP
        mem32[0x40008504] = 0  # MODE timer
        mem32[0x40008508] = 3  # BITMODE 32
        mem32[0x40008510] = 0  # PRESCALER 16 MHz
        mem32[0x4000800C] = 1  # TASKS_CLEAR
        mem32[0x40008000] = 1  # TASKS_START


def _read():
    if _M3:
        return 0x3FFFFFFF - (mem32[0x40000004] & 0x3FFFFFFF)
    mem32[0x40008040] = 1  # TASKS_CAPTURE[0]
    return mem32[0x40008540] & 0x3FFFFFFF


def _ns(counts):
    return counts * 40 if _M3 else counts * 125 // 2


def _noop():
    pass


def _raw(fn, n):
    _start()
    t0 = _read()
    for _ in range(n):
        fn()
    return _ns(_read() - t0)


_base = []


def count(fn, n=1):
    if not _base:
        _base.append(_raw(_noop, 200) // 200)  # loop + call overhead per iteration
        _base.append(_raw(_noop, 0))  # the measurement itself
    return (_raw(fn, n) - _base[1]) // n - _base[0]
