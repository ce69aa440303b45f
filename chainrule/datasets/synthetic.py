"""Small synthetic datasets from the tutorials."""

from __future__ import annotations

import numpy as np

from chainrule._tensor import make_tensor


def sinc_surface(n: int = 50, low: float = -10.0, high: float = 10.0):
    """The 2-D sinc surface ``sin(r) / r`` sampled on an ``n`` x ``n`` grid.

    Returns ``(x, y)`` NumPy arrays of shapes ``(n*n, 2)`` and ``(n*n, 1)``.

    >>> x, y = sinc_surface(50)
    >>> x.shape, y.shape
    ((2500, 2), (2500, 1))
    """
    grid = np.linspace(low, high, n)
    x1, x2 = np.meshgrid(grid, grid)
    x = np.stack([x1.ravel(), x2.ravel()], axis=1)
    r = np.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(r == 0, 1.0, np.sin(r) / r)
    return x, y.reshape(-1, 1)


_CELSIUS = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
_UNKNOWN_UNITS = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]


def temperature():
    """The thermometer readings of *Deep Learning with PyTorch*, chapter 5: ``(t_c, t_u)``.

    ``t_c`` are temperatures in Celsius, ``t_u`` the same readings in unknown units
    (float32 tensors of 11 values).

    >>> t_c, t_u = temperature()
    >>> t_c.shape
    torch.Size([11])
    """
    return (make_tensor(np.array(_CELSIUS, dtype=np.float32)),
            make_tensor(np.array(_UNKNOWN_UNITS, dtype=np.float32)))
