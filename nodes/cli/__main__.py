"""`python -m nodes.cli`: the node command line."""

import sys

from nodes.cli.main import main

sys.exit(main())
