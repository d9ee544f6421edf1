"""Shared by the update tests: lab keys, small synthetic trees and packages (signed with
`cryptography`, the independent peer of metercrypto's Ed25519 verify)."""
import hashlib
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from host_tools.update import keys as K
from host_tools.update import package as P
from meter.common import legal

FW_KEY = Ed25519PrivateKey.generate()
MET_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
KEYS = {"update_key": K.public_hex(FW_KEY), "metrology_key": K.public_hex(MET_KEY)}
MP = ("%d.%d.%d" % (1, 25, 0), "6.3")


def small_tree(tag=b"1", legal_tag=b"L1"):
    """A synthetic slot tree: the legal modules plus a few others (the service does not run them)."""
    t = {m + ".mpy": b"legal " + m.encode() + legal_tag for m in legal.MODULES}
    for i in range(6):
        t["meter/other/m%d.mpy" % i] = (b"module %d version " % i + tag) * (40 + 30 * i)
    t["board.mpy"] = b"board " + tag
    t["meter/empty.mpy"] = b""
    return t


def package(tree, version, counter, board="unix_sim", legal_changed=False, keys=(FW_KEY,),
            metrology=False, mp=MP):
    data = P.build(tree, board, version, counter, legal_changed, micropython=mp[0], mpy=mp[1])
    for k in keys:
        data = P.sign(data, k, P.KEY_FIRMWARE)
    if metrology:
        data = P.sign(data, MET_KEY, P.KEY_METROLOGY)
    return data


def flash_with(data, root):
    """A flash dir with `data` installed in slot a, confirmed."""
    os.makedirs(os.path.join(root, "a"))
    P.install(data, os.path.join(root, "a"))
    with open(os.path.join(root, "boot"), "w") as f:
        f.write("a a ok 0\n")
