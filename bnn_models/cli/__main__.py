"""``python -m bnn_models.cli``: the ``bnn-bench`` command."""

import sys

from bnn_models.cli import main

sys.exit(main())
