"""``--quota none``: one global selection (the sampler runs on all samples at once)."""

from __future__ import annotations

from pipeline.select.base import Quota

QUOTA = Quota("none", None, "one global selection", "—")
