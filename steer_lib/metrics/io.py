"""Renamed: :mod:`steer_lib.metrics.input_files` (reading the files to score) and :mod:`steer_lib.metrics.keys`
(the result's keys and ``METRICS_VERSION``). This alias is kept for one release, for code written before the split."""
from .input_files import InputError, read_texts  # noqa: F401
from .keys import DIVERSITY_KEYS, JSON_KEYS, METRICS_VERSION  # noqa: F401
