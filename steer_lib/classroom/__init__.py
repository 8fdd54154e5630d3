"""The classroom: nbgrader assignments generated from the kit's own notebooks, and their autograding."""
from .assignments import AssignmentError, generate, validate  # noqa: F401
from .grading import autograde  # noqa: F401
