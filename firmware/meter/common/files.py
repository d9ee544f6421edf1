# Small-file helpers on the board's writable filesystem (littlefs on rp2/esp32, FAT on some boards,
# the rig's temp dir in simulation).
#
# Atomic replace: write <path>.tmp, then rename it over <path>. On POSIX and littlefs a rename
# replaces atomically, so a power cut leaves the old or the new file, never a torn one. FAT does not
# replace on rename: see replace(); a cut there leaves only <path>.tmp, which the owning service's
# boot recovery completes (tariff_config.recover).
import os

TMP = ".tmp"
_BLOCK = 256


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def remove(path):
    """Remove a file if it exists (no error if it does not)."""
    try:
        os.remove(path)
    except OSError:
        pass


def read_bytes(path, limit=-1):
    """The file's bytes (at most `limit`), or None if it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read() if limit < 0 else f.read(limit)
    except OSError:
        return None


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def replace(src, dst):
    """Rename src over dst. OSError if it failed (dst is then the old file). On FAT, where a rename
    does not replace, src is first renamed to dst + '.tmp' and dst removed: a cut then leaves only
    the .tmp, which the owner's boot recovery renames into place."""
    try:
        os.rename(src, dst)
        return
    except OSError:
        if not exists(dst) or not exists(src):
            raise
    tmp = dst + TMP
    if src != tmp:
        remove(tmp)
        os.rename(src, tmp)
    os.remove(dst)
    os.rename(tmp, dst)


def write_atomic(path, *parts):
    """Write parts (bytes-like) to path + '.tmp', then rename it over path. OSError if anything
    failed (the old file is then untouched, the temp file removed)."""
    tmp = path + TMP
    try:
        with open(tmp, "wb") as f:
            for p in parts:
                f.write(p)
    except OSError:
        remove(tmp)
        raise
    replace(tmp, path)


def file_crc(path, crc32):
    """(length, crc32) of a file, read in small blocks; None if it cannot be read."""
    buf = bytearray(_BLOCK)
    mv = memoryview(buf)
    n = 0
    c = 0
    try:
        with open(path, "rb") as f:
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                c = crc32(mv[:k], c)
                n += k
    except OSError:
        return None
    return n, c
