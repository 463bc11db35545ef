"""Settings for the whole suite."""

from __future__ import annotations

from hypothesis import settings

# A shared 2-core machine can pause any example for longer than hypothesis' default 200 ms
# deadline; the properties are about correctness, timing is measured by the benchmarks.
settings.register_profile("modbridge", deadline=None)
settings.load_profile("modbridge")
