"""Firmware update packages on the host: build (mpy-cross), sign (Ed25519, `cryptography`), keys,
and the push over the optical port. Format and checks: firmware/meter/services/update.py."""
