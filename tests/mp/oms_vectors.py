# wmbus.json vectors for the OMS tests: by id, and as frames without CRCs.
import json

from wmbus_ref import strip_crcs


def _load():
    # shared/ sits beside the repository (CI: a copy beside the clone; here /work/shared)
    for p in ("../shared/vectors/wmbus.json", "../../shared/vectors/wmbus.json",
              "/work/shared/vectors/wmbus.json"):
        try:
            with open(p) as f:
                return {v["id"]: v for v in json.load(f)["vectors"]}
        except OSError:
            pass
    raise OSError("wmbus.json not found")


V = _load()


def frame(v):
    """The vector's frame without CRCs, as a bytearray (it is decrypted in place)."""
    if "frame_without_crc" in v:
        return bytearray(bytes.fromhex(v["frame_without_crc"]))
    f = bytes.fromhex(v["frame"])
    return bytearray(f if v.get("crc") == "none" else strip_crcs(f, v.get("format", "A")))
