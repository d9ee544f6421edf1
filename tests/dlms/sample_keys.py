"""The sample model's test keys and titles, for the CPython side (same values as
sample_model.py, which runs inside MicroPython)."""
SERVER_TITLE = b"OMF\x00\x00\x00\x00\x01"
CLIENT_TITLE = b"ABCDEFGH"
EK = bytes(range(16))
AK = bytes(range(0xD0, 0xE0))
KEK = bytes(range(0x10, 0x20))
LLS_PASSWORD = b"12345678"
