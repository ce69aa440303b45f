"""Which rank died first. Each rank started by the launcher holds a connection to the
launcher's Unix socket; the kernel closes it the instant the rank's process ends, however it
ends (SIGKILL included). The first connection that closes without a goodbye names the failed
rank, well before ``mpiexec`` has noticed the death and killed the other ranks (its report
names a process id, and under load not always the first to die)."""

from __future__ import annotations

import os
import selectors
import socket
import threading
import time

SOCKET_ENV = "CHAINRULE_DISTRIBUTED_LIVENESS"
_GOODBYE = b"done\n"
_connection: socket.socket | None = None


def announce(rank: int) -> None:
    """Connect this rank to the launcher (when there is one) and keep the connection open."""
    global _connection
    path = os.environ.get(SOCKET_ENV)
    if path and _connection is None:
        _connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        _connection.connect(path)
        _connection.sendall(f"{rank}\n".encode())


def goodbye() -> None:
    """Tell the launcher this rank is ending normally."""
    if _connection is not None:
        _connection.sendall(_GOODBYE)


class Watcher:
    """Listens at ``path``; ``deaths`` lists ``(seconds, rank)`` of connections that closed
    without a goodbye, in the order they were seen."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.deaths: list[tuple[float, int]] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(path)
        self._server.listen(64)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()

    def first_failed(self) -> int | None:
        """The rank that died first, or None when several closed too close together to tell."""
        if not self.deaths:
            return None
        first_time = self.deaths[0][0]
        simultaneous = [rank for seen, rank in self.deaths if seen == first_time]
        return simultaneous[0] if len(simultaneous) == 1 else None

    def _watch(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._server, selectors.EVENT_READ, None)
        while not self._stop.is_set():
            ready = selector.select(timeout=0.05)
            seen = time.monotonic()  # one time for a batch: events in it are unordered
            for key, _ in ready:
                if key.data is None:
                    connection, _ = self._server.accept()
                    selector.register(connection, selectors.EVENT_READ, {"text": b""})
                    continue
                chunk = key.fileobj.recv(64)
                key.data["text"] += chunk
                if not chunk:
                    selector.unregister(key.fileobj)
                    key.fileobj.close()
                    rank, _, rest = key.data["text"].partition(b"\n")
                    if rank and not rest.startswith(_GOODBYE):
                        self.deaths.append((seen, int(rank)))
        for key in list(selector.get_map().values()):
            if key.data is not None:
                key.fileobj.close()
        selector.close()
