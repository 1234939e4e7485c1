"""A small fault-injecting TCP proxy on 127.0.0.1, for tests that break transfers on purpose.

It forwards connections to an upstream port and can:

- reset a connection once a given number of response bytes (a download) or request
  bytes (an upload) went through, to prove that an interrupted transfer leaves
  nothing half-made; every connection, or only the first ``max_resets``, to prove that a retry completes it;
- answer ``503 Service Unavailable`` to the next K requests whose request line holds
  ``unavailable_match`` (API calls, not version discovery), without forwarding them, to
  prove that transient failures are retried, a bounded number of times;
- throttle what clients send (bytes per second), to make an upload outlive a token or a
  service restart;
- stall what clients send for a while once a number of request bytes went through;
- hold what clients send once a number of request bytes went through, until ``release()`` (a test stops the
  server meanwhile, so that it cannot finish the request during its graceful shutdown).

Glance answers every request with ``Connection: close`` here, so one connection is one request.
"""

import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(
        self,
        upstream_port,
        reset_after_response_bytes=None,
        reset_after_request_bytes=None,
        unavailable_requests=0,
        unavailable_match=b"/v2/images",
        throttle_request_bytes_per_second=None,
        stall_after_request_bytes=None,
        stall_seconds=0,
        hold_after_request_bytes=None,
        max_resets=None,
    ):
        self.upstream_port = upstream_port
        self.reset_after = reset_after_response_bytes
        self.reset_after_request = reset_after_request_bytes
        self.unavailable_requests = unavailable_requests
        self.unavailable_match = unavailable_match
        self.throttle = throttle_request_bytes_per_second
        self.stall_after = stall_after_request_bytes
        self.stall_seconds = stall_seconds
        self.hold_after = hold_after_request_bytes
        self.max_resets = max_resets
        self._released = threading.Event()
        self.resets = 0
        self.refused = 0
        self.stalls = 0
        self.request_bytes = 0  # forwarded from clients, over every connection
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

    def release(self):
        """Let held requests go on."""
        self._released.set()

    def __exit__(self, *exc):
        self.release()
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _addr = self._server.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        head = b""
        if self.unavailable_requests > 0:
            head = self._read_head(client)
            if self.unavailable_match in head.split(b"\r\n", 1)[0] and self.unavailable_requests > 0:
                self.unavailable_requests -= 1
                self._unavailable(client)
                return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:  # the service is down: the client sees its connection closed, as without the proxy
            client.close()
            return
        if head:
            upstream.sendall(head)
        threading.Thread(
            target=self._pipe,
            args=(client, upstream, self.reset_after_request, len(head), self._request_pace()),
            daemon=True,
        ).start()
        threading.Thread(target=self._pipe, args=(upstream, client, self.reset_after), daemon=True).start()

    @staticmethod
    def _read_head(client):
        """The request line and headers (and whatever part of the body came with them)."""
        head = b""
        client.settimeout(5)
        while b"\r\n\r\n" not in head:
            data = client.recv(65536)
            if not data:
                break
            head += data
        client.settimeout(None)
        return head

    def _unavailable(self, client):
        """Answer 503 and close (the body, if any, is not read)."""
        try:
            body = b'{"message": "injected by the fault proxy"}'
            client.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            self.refused += 1
        except OSError:
            pass
        finally:
            client.close()

    def _request_pace(self):
        """A function that sleeps as the throttle and the stall ask, given the request bytes sent so far."""
        started = time.monotonic()
        state = {"stalled": False}

        def pace(sent):
            if self.hold_after is not None and sent >= self.hold_after:
                self._released.wait()
            if self.stall_after is not None and not state["stalled"] and sent >= self.stall_after:
                state["stalled"] = True
                self.stalls += 1
                time.sleep(self.stall_seconds)
            if self.throttle:
                # The stall is not time the throttle may catch up on afterwards.
                elapsed = time.monotonic() - started - (self.stall_seconds if state["stalled"] else 0)
                ahead = sent / float(self.throttle) - elapsed
                if ahead > 0:
                    time.sleep(ahead)

        return pace

    def _may_reset(self):
        return self.max_resets is None or self.resets < self.max_resets

    def _pipe(self, source, sink, limit, sent=0, pace=None):
        try:
            while True:
                data = source.recv(65536 if pace is None or not self.throttle else 16384)
                if not data:
                    break
                if pace is not None:
                    pace(sent)
                    self.request_bytes += len(data)
                if limit is not None and sent + len(data) > limit and self._may_reset():
                    sink.sendall(data[: max(limit - sent, 0)])
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
