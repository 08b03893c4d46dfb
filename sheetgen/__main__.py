"""``python -m sheetgen``: the command line, exiting with its exit code."""

import sys

from sheetgen.cli import main

sys.exit(main())
