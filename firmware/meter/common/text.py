# Text that leaves the meter on a line protocol: printable ASCII only, without the IEC 62056-21
# data-set delimiters ( ) * / ! (IEC 62056-21 6.4: they frame values and the readout), so a value,
# an identity or an error reason can never break a frame or a readout.
_BAD = "()*/!"


def sanitize(text, maxlen=-1):
    """text cut to maxlen characters (all if < 0), every non-printable or delimiter character
    replaced by '_'."""
    if maxlen >= 0:
        text = text[:maxlen]
    out = []
    for ch in text:
        o = ord(ch)
        out.append(ch if 0x20 <= o < 0x7F and ch not in _BAD else "_")
    return "".join(out)
