"""Run the API emulator: ``python -m liqo_core.sandbox.apiserver --name N --state-dir D``."""

import sys

from .cli import main

sys.exit(main())
