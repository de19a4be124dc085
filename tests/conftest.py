"""Shared by every test: this folder holds cli_helpers (imported as `from cli_helpers import ...`).

Tests mirror the source: tests/<package>/test_<module>.py for pipeline/<package>/<module>.py, end-to-end runs of
the command line in tests/cli/, the layer rules in tests/test_architecture.py. Basenames are unique across folders
(pytest imports each test file by its basename: no __init__.py here).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
