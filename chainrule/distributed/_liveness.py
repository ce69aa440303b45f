"""Which rank died first. Each rank started by the launcher connects to the launcher's Unix
socket and sends its rank and process id, and a goodbye when it ends normally. The launcher
watches each rank's process through a pidfd (Linux 5.3+): it becomes readable when the
process has ended, however it ended (SIGKILL included), and before its parent can collect the
exit status, so before ``mpiexec`` can act on the death and kill the other ranks. The first
process to end without a goodbye names the failed rank (``mpiexec``'s report names a process
id, and under load not always the first to die).

Where there is no pidfd, the connection's close stands for the process's end: the kernel closes
it as the process ends, but under load an ending process may be descheduled between closing its
pipes, which ``mpiexec`` watches, and closing this socket; and a forked child that inherited the
socket keeps it open.

When the watcher thread is slow to run, the deaths arrive in one batch. Linux's epoll lists a
batch's events in the order they happened (its ready list is first in, first out), so the
first of the batch is still the first to die; other selectors give no order, and a batch of
several deaths there names no one. A watcher starved until ``mpiexec`` has exited still reads
every death before it stops."""

from __future__ import annotations

import itertools
import os
import selectors
import socket
import threading

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
        _connection.sendall(f"{rank} {os.getpid()}\n".encode())


def goodbye() -> None:
    """Tell the launcher this rank is ending normally."""
    if _connection is not None:
        _connection.sendall(_GOODBYE)


class _Rank:
    """What the watcher holds of one rank: its connection, what it sent, and a pidfd on its
    process once the rank has named it (None where there is no pidfd)."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection: socket.socket | None = connection
        self.text = b""
        self.process: int | None = None
        self.watched = False  # a pidfd was opened on its process

    def ended_normally(self) -> bool:
        return self.text.partition(b"\n")[2].startswith(_GOODBYE)

    def number(self) -> int | None:
        line, newline, _ = self.text.partition(b"\n")
        return int(line.split()[0]) if newline and line else None

    def process_id(self) -> int | None:
        fields = self.text.partition(b"\n")[0].split()
        return int(fields[1]) if b"\n" in self.text and len(fields) > 1 else None


class Watcher:
    """Listens at ``path``; ``deaths`` lists ``(batch, rank)`` of ranks that ended without a
    goodbye, in the order they were seen (``batch`` numbers the selector's wake-ups; within
    one, the order is the order of the deaths only where ``ordered``)."""

    ordered = hasattr(selectors, "EpollSelector")

    def __init__(self, path: str) -> None:
        self.path = path
        self.deaths: list[tuple[int, int]] = []
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
        """The rank that died first, or None when several ended too close together to tell."""
        if not self.deaths:
            return None
        first_batch = self.deaths[0][0]
        simultaneous = [rank for batch, rank in self.deaths if batch == first_batch]
        return simultaneous[0] if self.ordered or len(simultaneous) == 1 else None

    def _watch(self) -> None:
        selector = selectors.EpollSelector() if self.ordered else selectors.DefaultSelector()
        selector.register(self._server, selectors.EVENT_READ, None)
        for batch in itertools.count():
            # once stopped, the ranks have all ended: drain what is ready, then leave
            stopping = self._stop.is_set()
            events = selector.select(timeout=0 if stopping else 0.05)
            if stopping and not events:
                break
            for key, _ in events:
                rank = key.data
                if rank is None:
                    connection, _ = self._server.accept()
                    connection.setblocking(False)
                    selector.register(connection, selectors.EVENT_READ, _Rank(connection))
                elif key.fileobj is rank.connection:
                    self._read(selector, rank, batch)
                elif key.fileobj == rank.process:
                    selector.unregister(rank.process)
                    os.close(rank.process)
                    rank.process = None
                    self._read(selector, rank, batch)  # its goodbye, if it said one
                    self._ended(rank, batch)
        for key in list(selector.get_map().values()):
            if isinstance(key.fileobj, int):
                os.close(key.fileobj)
            elif key.data is not None:
                key.fileobj.close()
        selector.close()

    def _read(self, selector: selectors.BaseSelector, rank: _Rank, batch: int) -> None:
        if rank.connection is None:
            return
        try:
            while chunk := rank.connection.recv(4096):
                rank.text += chunk
        except BlockingIOError:
            self._watch_process(selector, rank)
            return
        selector.unregister(rank.connection)
        rank.connection.close()
        rank.connection = None
        if not rank.watched:
            self._ended(rank, batch)

    def _watch_process(self, selector: selectors.BaseSelector, rank: _Rank) -> None:
        pid = rank.process_id()
        if rank.watched or pid is None or not hasattr(os, "pidfd_open"):
            return
        try:
            rank.process = os.pidfd_open(pid)
        except OSError:  # already ended, or no pidfd here: its connection's close will do
            return
        rank.watched = True
        selector.register(rank.process, selectors.EVENT_READ, rank)

    def _ended(self, rank: _Rank, batch: int) -> None:
        number = rank.number()
        if number is not None and not rank.ended_normally():
            self.deaths.append((batch, number))
