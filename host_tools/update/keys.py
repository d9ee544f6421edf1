"""Ed25519 key files for update signing (lab keys; a production key belongs in an HSM).

    <name>.key  the private key, PEM PKCS#8, mode 0600
    <name>.pub  the public key, 64 hex digits: provision it in the meter's key store as
                "update_key" (firmware key) or "metrology_key" (legally relevant part)
"""
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def public_hex(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw).hex()


def keygen(base):
    """Write base.key and base.pub; returns the public key hex. Refuses to overwrite a key."""
    if os.path.exists(base + ".key"):
        raise FileExistsError(base + ".key exists")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(base + ".key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = public_hex(key)
    with open(base + ".pub", "w") as f:
        f.write(pub + "\n")
    return pub


def load_private(path):
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("%s is not an Ed25519 private key" % path)
    return key
