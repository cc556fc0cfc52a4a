"""`python -m correlator` runs the command line."""

from __future__ import annotations

import sys

from correlator.cli import main

sys.exit(main())
