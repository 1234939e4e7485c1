"""A small fault-injecting TCP proxy on 127.0.0.1, for tests that break transfers on purpose.

It forwards connections to an upstream port and can reset a connection once a
given number of response bytes went through, to prove that an interrupted
transfer leaves nothing half-made.
"""
import socket
import struct
import threading


class FaultProxy:
    def __init__(self, upstream_port, reset_after_response_bytes=None):
        self.upstream_port = upstream_port
        self.reset_after = reset_after_response_bytes
        self.resets = 0
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self._server.settimeout(0.5)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _addr = self._server.accept()
            except socket.timeout:
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, self.reset_after), daemon=True).start()

    def _pipe(self, source, sink, limit):
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) > limit:
                    sink.sendall(data[:max(limit - sent, 0)])
                    self.resets += 1
                    # SO_LINGER 0 turns the final close into a TCP reset. shutdown(SHUT_RD)
                    # wakes the thread still reading the client, so that close really happens.
                    sink.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sink.shutdown(socket.SHUT_RD)
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
                sock.close()
