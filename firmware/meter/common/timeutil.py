# Meter time: UTC seconds since 2020-01-01T00:00:00Z ("meter seconds").
#
# Why 2020: on 32-bit MicroPython a small int is 31 bits (up to 1 073 741 823). Seconds since 1970
# are already past that and would allocate on every use; seconds since 2000 overflow it in 2034.
# Seconds since 2020 stay small ints until 2054, beyond a meter's certified lifetime.
#
# Civil-date conversion is done here (days-from-civil), independent of the port's time module,
# because ports disagree on the epoch.

EPOCH_YEAR = 2020
UNIX_OFFSET = 1577836800  # unix time of 2020-01-01T00:00:00Z
DAYS_0000_TO_2020 = 737730  # days from 0000-03-01 (proleptic) to 2020-01-01


def days_from_civil(y, m, d):
    """Days since 2020-01-01 for a proleptic Gregorian date."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - DAYS_0000_TO_2020


def civil_packed(z):
    """(year << 9) | (month << 5) | day of a day number since 2020-01-01. Integer-only, so hot paths
    (the P1 time stamp, the tariff's day plan) get the date without allocating a tuple."""
    z += DAYS_0000_TO_2020
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    if mp < 10:
        m = mp + 3
    else:
        m = mp - 9
        y += 1
    return (y << 9) | (m << 5) | d


def civil_from_days(z):
    """(year, month, day) of a day number since 2020-01-01."""
    p = civil_packed(z)
    return p >> 9, (p >> 5) & 15, p & 31


def weekday(days):
    """ISO weekday 1=Monday..7=Sunday of a day number (2020-01-01 was a Wednesday)."""
    return (days + 2) % 7 + 1


def to_secs(y, m, d, hh=0, mm=0, ss=0):
    return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss


def from_secs(t):
    """(Y, M, D, hh, mm, ss, weekday) of meter seconds."""
    days = t // 86400
    sod = t - days * 86400
    y, m, d = civil_from_days(days)
    return y, m, d, sod // 3600, (sod // 60) % 60, sod % 60, weekday(days)
