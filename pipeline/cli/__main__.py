"""``python -m pipeline.cli``: the ``prune`` command."""

import sys

from pipeline.cli import main

sys.exit(main())
