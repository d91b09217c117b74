"""``python -m assistant.cli``: the `newsroom` command."""
import sys

from .main import main

sys.exit(main())
