"""The classroom: nbgrader assignments generated from the kit's own notebooks, and their autograding.

Needs the ``classroom`` extra (nbformat, nbgrader): without it, importing this package says so in one line.
"""
from ..extras import check

for _module in ("nbformat", "nbgrader"):
    check(_module, "the classroom tools (steer_lib.classroom)")
from .assignments import AssignmentError, generate, validate  # noqa: F401
from .grading import autograde  # noqa: F401
