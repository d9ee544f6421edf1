"""A live web console for a running Rig (issue 16, section 2): the registers, a power plot over
virtual time, the tariff and clock, the P1 telegram as sent, the optical line, relay and display,
credit and radio where the meter has them; controls for loads, power, time rate, button and keypad.

    from host_tools.console import Console
    with Rig() as rig, Console(rig, port=0) as con:
        print(con.url, con.token)   # open con.url; POSTs need con.token

state.py samples the rig, controls.py carries out the writes, server.py serves both and the page
(static/: plain HTML, one script, one style sheet; nothing fetched from elsewhere).
"""
import secrets
import threading

from host_tools.console.controls import Controls
from host_tools.console.server import serve
from host_tools.console.state import Sampler


class Console:
    def __init__(self, rig, port=0, token=None, period_s=1.0, ring=7200, pace_for_rate=None):
        self.rig = rig
        self.token = token or secrets.token_urlsafe(12)
        self.sampler = Sampler(rig, period_s, ring)
        self.controls = Controls(rig, self.sampler, pace_for_rate)
        self._port = port
        self._srv = None
        self._thread = None

    def start(self):
        self._srv = serve(self, self._port)
        self.sampler.start()
        self._thread = threading.Thread(target=self._srv.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="console-http", daemon=True)
        self._thread.start()
        return self

    __enter__ = start

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._srv is not None:
            self._srv.shutdown()
            self._thread.join(timeout=5)
            self._srv.server_close()
            self._srv = None
        self.sampler.stop()

    def threads(self):
        """The console's long-lived threads (the sampler and the server loop; bench_console)."""
        return [t for t in (self.sampler.thread, self._thread) if t is not None]

    @property
    def port(self):
        return self._srv.server_address[1]

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.port
