"""Random number generation: ``Generator``, ``manual_seed`` and the default generator.

chainrule draws from NumPy's PCG64; seeding makes runs repeatable, but the
numbers differ from PyTorch's (which uses a Mersenne Twister and its own
transforms).
"""

from __future__ import annotations

import numpy as np


class Generator:
    """A source of random numbers with its own state.

    >>> import chainrule as torch
    >>> g = torch.Generator().manual_seed(0)
    >>> torch.rand(2, generator=g).shape
    torch.Size([2])
    """

    def __init__(self, device="cpu") -> None:
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self.rng = np.random.default_rng(self._seed)
        self.device = device

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        self._seed = seed
        self.rng = np.random.default_rng(seed % (2**64))
        return self

    def seed(self) -> int:
        seed = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor (JSON-free, pickle-free)."""
        from chainrule._tensor import make_tensor

        state = self.rng.bit_generator.state
        words = [state["state"]["state"], state["state"]["inc"], state["has_uint32"],
                 state["uinteger"]]
        raw = b"".join(int(w).to_bytes(16, "little") for w in words)
        return make_tensor(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state) -> Generator:
        raw = bytes(np.asarray(new_state._data if hasattr(new_state, "_data") else new_state,
                               dtype=np.uint8))
        words = [int.from_bytes(raw[i:i + 16], "little") for i in range(0, 64, 16)]
        bit_generator = np.random.PCG64()
        bit_generator.state = {"bit_generator": "PCG64",
                               "state": {"state": words[0], "inc": words[1]},
                               "has_uint32": words[2], "uinteger": words[3]}
        self.rng = np.random.Generator(bit_generator)
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and NumPy's global one, which some user code uses)."""
    np.random.seed(int(seed) % (2**32))
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    default_generator.set_state(new_state)


def rng_of(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator to draw from (the default one when ``generator`` is None)."""
    return (generator or default_generator).rng
