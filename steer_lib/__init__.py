"""steer-kit: a teaching and reproduction kit for STEER (arXiv 2308.07645).

The notebooks narrate; this package does the work. Start with
:func:`steer_lib.data.get_task`, :func:`steer_lib.models.load_base` and
:func:`steer_lib.decoding.generate`.
"""
__version__ = "0.1.0"

from .runtime import resolve_device, set_seed  # noqa: E402,F401
