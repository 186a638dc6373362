"""``python -m properspin`` — the same as the ``properspin`` command."""

import sys

from .cli import main

sys.exit(main())
