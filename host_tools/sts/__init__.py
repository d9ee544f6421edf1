"""STS (IEC 62055-41) vending side: decoder key generation and token generation, in CPython.

    keys      DKGA02 (DES, `cryptography`), DKGA04 (HMAC-SHA-256), PAN / PANBlock / CONTROLBlock
    sta       EA07 Standard Transfer Algorithm, encryption and decryption on bit lists
    misty1    EA11 MISTY1, pure Python from RFC 2994
    ciphers   block encryption by EA code (07 STA, 09 DES, 11 MISTY1)
    codec     block layouts, token CRC, amount field, TIDs and base dates, 66 bits <-> 20 digits
    tokens    Vendor(decoder_key, ea, base_year): credit / management / key change tokens;
              test_token() for class 1; Vendor.decode()

The command line is host_tools/cli_vend.py (`python -m host_tools vend ...`). Written without
the firmware's decoder (firmware/meter/cores/sts) and differently (Python ints and bit lists
here, byte buffers and folded tables there), so the two check each other; the public vectors in
shared/vectors/sts.json decide where they must agree. See README.md.
"""
