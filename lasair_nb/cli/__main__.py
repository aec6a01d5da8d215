"""``python -m lasair_nb.cli``: the ``lasair-nb`` command."""

import sys

from lasair_nb.cli.main import main

sys.exit(main())
