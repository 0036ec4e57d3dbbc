"""Entry point of `python -m gleif_data`."""

import sys

from gleif_data.cli import main

sys.exit(main())
