"""``python -m hybridkeras ...``: the command line (as the ``hybridkeras`` script)."""
import sys

from hybridkeras.cli import main

sys.exit(main())
