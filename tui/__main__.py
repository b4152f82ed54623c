"""``python -m mbsim.tui``: the same as ``python -m mbsim`` and the ``mbsim`` command."""

import sys

try:
    from mbsim.tui.entry import main
except KeyboardInterrupt:  # Ctrl+C at the very start
    sys.stderr.write("mbsim: interrupted\n")
    sys.exit(130)

sys.exit(main())
