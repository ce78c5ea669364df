"""``python -m autograder.verifier FD``: the verifier process (see :mod:`autograder.verifier.zygote`)."""

import sys

from autograder.verifier.zygote import main

sys.exit(main())
