# OMS security (OMS Specification Vol. 2, EN 13757-7 clause 9): sans-I/O.
