"""Small helpers for the reference: building real-size models without paying
for (or touching the memory of) their random initialisation."""

import contextlib

from torch.nn import init


@contextlib.contextmanager
def no_init():
    """Inside, torch.nn layers skip their initialisers: parameters stay as
    uninitialised torch.empty storage, whose pages the OS does not commit until
    written. For counting parameters of real-size models and for loading
    weights right after construction."""
    names = ["kaiming_uniform_", "uniform_", "normal_", "ones_", "zeros_", "xavier_uniform_", "trunc_normal_"]
    saved = {n: getattr(init, n) for n in names}
    try:
        for n in names:
            setattr(init, n, lambda t, *a, **k: t)
        yield
    finally:
        for n, f in saved.items():
            setattr(init, n, f)
