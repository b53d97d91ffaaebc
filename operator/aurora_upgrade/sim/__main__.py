"""`python -m aurora_upgrade.sim`: the same as `aurora-upgrade sim`."""

import sys

from .cli import main

raise SystemExit(main(sys.argv[1:]))
