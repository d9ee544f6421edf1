# The legally relevant software (WELMEC 7.2 software separation, S1-S3): the modules that measure,
# accumulate, store and split energy by tariff. They carry their own version and checksum, shown on
# the optical port (1-0:0.2.0 / 1-0:0.2.8, IEC 62056-61 / DLMS Blue Book "active firmware
# identifier / signature" of the metrology part; 0-0:0.2.0 / 0-0:0.2.8 are the whole firmware's)
# and on the display. An update that changes them must say so and carry the metrology signature
# (services/update.py).
#
# Checksum: SHA-256 over, for each module below in this order, "<path>\n" + SHA-256(file bytes),
# where <path> is the module's file in the firmware tree (".mpy" as deployed, ".py" in a source
# tree); the first 8 bytes as 16 upper-case hex digits. Computed by the host at build time (the
# manifest carries it) and recomputed by the meter from the manifest's per-file hashes.
# Shared by the firmware and host_tools/update (CPython imports this file).
import binascii
import hashlib

VERSION = "1.0.0"
MODULES = (
    "meter/common/registers",
    "meter/cores/tariff/calendar",
    "meter/cores/tariff/engine",
    "meter/services/metrology",
    "meter/services/storage",
)


def module_of(path):
    """The MODULES entry a tree path ('meter/services/metrology.mpy') belongs to, or None."""
    k = path.rfind(".")
    m = path[:k] if k > 0 else path
    return m if m in MODULES else None


def checksum(digests):
    """16 hex digits from {module: (path, sha256 digest bytes)}; ValueError if a module is missing."""
    h = hashlib.sha256()
    for m in MODULES:
        e = digests.get(m)
        if e is None:
            raise ValueError("legal: module %s missing" % m)
        h.update(e[0].encode() + b"\n")
        h.update(e[1])
    return binascii.hexlify(h.digest()[:8]).decode().upper()


def ident(checksum_text):
    """The checksum as a non-negative event argument (its first 7 hex digits: 28 bits)."""
    return int(checksum_text[:7], 16)
