"""Benchmarks that write ratios measured within one run: decoding speed (:mod:`.decoding`), scoring speed
(:mod:`.metrics`)."""
