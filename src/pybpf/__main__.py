"""``python -m pybpf``: the same as the ``pybpf`` command."""

import sys

from pybpf.cli.main import main

sys.exit(main())
