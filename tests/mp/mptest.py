# Small helpers for tests that run inside MicroPython (no unittest there).
import sys


class SkipTest(Exception):
    pass


def raises(exc, fn, *args, **kw):
    """Call fn and require that it raises exc; return the exception."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("expected %s from %r" % (exc.__name__, fn))


def eq(a, b, msg=""):
    if a != b:
        raise AssertionError("%r != %r %s" % (a, b, msg))


def is32():
    return sys.maxsize < (1 << 32)


def alloc_delta(run, loops):
    """Heap bytes allocated by `loops` calls of run() (after one warm-up call), GC disabled."""
    import gc
    run()
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        i = 0
        while i < loops:
            run()
            i += 1
        return gc.mem_alloc() - before
    finally:
        gc.enable()
