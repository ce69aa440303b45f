"""The exception types of ``torch.distributed``: all are ``RuntimeError`` subclasses."""

from __future__ import annotations

__all__ = ["DistBackendError", "DistError", "DistNetworkError", "DistStoreError"]


class DistError(RuntimeError):
    """An error of the distributed package."""


class DistBackendError(DistError):
    """A collective failed or timed out in the communication backend (here: MPI)."""


class DistNetworkError(DistError):
    """A network error while setting up or running the process group."""


class DistStoreError(DistError):
    """A rendezvous error (torch's key-value store; MPI has none, kept for ``except`` clauses)."""
