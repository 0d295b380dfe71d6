"""``python -m perflaw``: the same command line as ``perflaw``."""

import sys

from perflaw.optimizer.cli.main import main

sys.exit(main())
