"""``python -m recft_utils``: the same as the ``recft`` command (for when the script is not on PATH)."""

import sys

from recft_utils.cli import main

sys.exit(main())
