"""``python -m tui``: the same as the ``mbsim`` command."""

import sys

from tui.cli import main

sys.exit(main())
