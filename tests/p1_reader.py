"""A P1 reader for tests: connects to a P1 TCP endpoint the way a P1 network dongle client does,
splits the byte stream into telegrams with dsmr-parser's own TelegramBuffer and parses them with
dsmr-parser's TelegramParser (checksum validation on)."""
import socket
import time

from dsmr_parser import telegram_specifications
from dsmr_parser.clients.telegram_buffer import TelegramBuffer
from dsmr_parser.parsers import TelegramParser


class P1Reader:
    def __init__(self, url, spec=telegram_specifications.V5):
        assert url.startswith("socket://")
        host, port = url[len("socket://"):].rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.buffer = TelegramBuffer()
        self.parser = TelegramParser(spec, apply_checksum_validation=True)
        self.arrivals = []  # monotonic time at which each telegram completed

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def drain(self, quiet=0.2):
        """Discard what is buffered and what arrives until the line is quiet."""
        self.sock.settimeout(quiet)
        try:
            while self.sock.recv(65536):
                pass
        except socket.timeout:
            pass
        self.buffer = TelegramBuffer()

    def next_raw(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            for t in self.buffer.get_all():
                self.arrivals.append(time.monotonic())
                return t
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no P1 telegram within %.1f s" % timeout)
            self.sock.settimeout(left)
            data = self.sock.recv(4096)
            if not data:
                raise EOFError("P1 endpoint closed")
            for line in data.decode("ascii").splitlines(keepends=True):
                self.buffer.append(line)

    def next(self, timeout=5.0):
        raw = self.next_raw(timeout)
        return self.parser.parse(raw), raw
