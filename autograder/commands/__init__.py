"""One module per ``python -m autograder`` subcommand, each thin over the layers below it.

Each module has ``add(sub, common)`` (its argparse subparser, ``func=run``) and ``run(args)``
(exit status). :data:`COMMANDS` is the order ``--help`` lists them in.
"""

COMMANDS = ("release", "collect", "grade", "feedback", "export", "report", "gradescope", "check", "mutants", "demo")
