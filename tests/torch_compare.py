"""Shared oracle helper for op tests: run an op in chainrule and torch, compare everything."""

from __future__ import annotations

import numpy as np
import torch

import chainrule


def _to_library(lib, value, requires_grad):
    """``value`` as a ``lib`` tensor (NumPy data; a float one requiring grad), else unchanged."""
    if isinstance(value, (np.ndarray, np.generic)):
        value = np.asarray(value)
        t = lib.tensor(value)
        return t.requires_grad_() if requires_grad and value.dtype.kind == "f" else t
    return value


def compare_with_torch(op, *args, rtol=None, atol=None, grad=True, name=None, **kwargs):
    """Run ``op(lib, *args)`` in chainrule and torch: compare values, dtypes, grad_fn names and
    the gradients of ``(out * w).sum()`` for random ``w``."""
    ours_in = [_to_library(chainrule, a, grad) for a in args]
    theirs_in = [_to_library(torch, a, grad) for a in args]
    ours = op(chainrule, *ours_in, **kwargs)
    theirs = op(torch, *theirs_in, **kwargs)
    low = any(np.asarray(a).dtype == np.float32 for a in args)
    rtol = rtol if rtol is not None else (1e-5 if low else 1e-10)
    atol = atol if atol is not None else (1e-5 if low else 1e-10)
    assert str(ours.dtype) == str(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)
    if not grad or not theirs.requires_grad:
        return ours
    assert ours.grad_fn is not None
    assert ours.grad_fn.name() == (name or theirs.grad_fn.name())
    weights = np.random.default_rng(1).standard_normal(tuple(theirs.shape)).astype(
        str(theirs.dtype).replace("torch.", ""))
    (ours * chainrule.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    for mine, other in zip(ours_in, theirs_in):
        if isinstance(other, torch.Tensor) and other.requires_grad:
            assert (mine.grad is None) == (other.grad is None)
            if other.grad is not None:
                np.testing.assert_allclose(mine.grad.numpy(), other.grad.numpy(), rtol=rtol, atol=atol)
    return ours


def raises_like_torch(ours, theirs, error: type[BaseException] = Exception):
    """``theirs()`` (torch) raises ``error``; ``ours()`` raises the same exception type and
    message."""
    import pytest

    with pytest.raises(error) as expected:
        theirs()
    with pytest.raises(type(expected.value)) as got:
        ours()
    assert str(got.value) == str(expected.value)
