"""Push a package through the optical port's programming mode (objects C.93.x, level 2).

send_package(client, data, chunk=112, progress=None, commit=True) -> CRC-32 of the package. Resumable: the
meter keeps what it staged (also across a power cut); if its staged bytes are a prefix of this
package (same length and CRC-32), the push continues from there. Every chunk carries its own
CRC-32; a frame without an answer is sent again (the meter treats a repeat as harmless).
"""
import binascii
import time
import zlib

from ..iec_client import IecError, write_retrying

OBJ_RUNNING, OBJ_CHUNK, OBJ_COMMIT, OBJ_ERROR = "C.93.0", "C.93.1", "C.93.2", "C.93.9"
CHUNK_MAX = 112  # bytes per frame: '<offset>:' + 224 hex + ',<crc8>' fits the 243-character value


def crc32(data, crc=0):
    return zlib.crc32(data, crc) & 0xFFFFFFFF


def staged(client):
    """(length, crc) the meter holds."""
    text, _ = client.read(OBJ_CHUNK)
    n, c, _ = text.split(",")
    return int(n), int(c, 16)


def send_package(client, data, chunk=CHUNK_MAX, progress=None, retries=3, resume=True, commit=True):
    chunk = max(1, min(chunk, CHUNK_MAX))
    off = 0
    if resume:
        n, c = staged(client)
        if 0 < n <= len(data) and crc32(data[:n]) == c:
            off = n
    t0 = time.monotonic()
    first = off
    while off < len(data):
        part = data[off:off + chunk]
        value = "%d:%s,%08X" % (off, binascii.hexlify(part).decode().upper(), crc32(part))
        try:
            write_retrying(client, OBJ_CHUNK, value, retries)
        except IecError as e:
            e.detail = _detail(client)
            raise
        off += len(part)
        if progress:
            progress(off, len(data), first, time.monotonic() - t0)
    n, c = staged(client)
    crc = crc32(data)
    if (n, c) != (len(data), crc):
        raise IecError("the meter staged %d bytes with CRC %08X, expected %d with %08X"
                       % (n, c, len(data), crc))
    if not commit:
        return crc
    try:
        client.write(OBJ_COMMIT, "%08X" % crc)
    except IecError as e:
        e.detail = _detail(client)
        raise
    return crc


def _detail(client):
    try:
        return client.read(OBJ_ERROR)[0]
    except IecError:
        return None


def bar(done, total, first, elapsed, width=30):
    """'[#####.....]  45%  12.3 KB/s  ETA 0:17' for a progress line."""
    frac = done / total if total else 1.0
    rate = (done - first) / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else 0.0
    k = int(frac * width)
    return "[%s%s] %3d%%  %.1f KB/s  ETA %d:%02d" % ("#" * k, "." * (width - k), int(frac * 100),
                                                     rate / 1024, int(eta) // 60, int(eta) % 60)
