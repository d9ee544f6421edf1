# Test-only stand-in for `select` on MicroPython's qemu port, which has none: asyncio's I/O queue
# needs select.poll(). There is no stream I/O to wait for, so waiting is advancing the virtual clock
# of tests/qemu/time.py by the timeout: the scheduler jumps to its next due task at once.
import time

POLLIN = 1
POLLOUT = 4
POLLERR = 8
POLLHUP = 16


class _Poll:
    def register(self, obj, mask=POLLIN):
        raise OSError("tests/qemu/select.py: no stream I/O on the emulated board")

    def modify(self, obj, mask):
        raise OSError("tests/qemu/select.py: no stream I/O on the emulated board")

    def unregister(self, obj):
        pass

    def ipoll(self, timeout=-1, flags=0):
        if timeout > 0:
            time.advance(timeout)
        return ()

    def poll(self, timeout=-1):
        return self.ipoll(timeout)


def poll():
    return _Poll()
