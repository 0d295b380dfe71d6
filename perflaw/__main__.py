"""``python -m perflaw`` and the ``perflaw`` command: the command line of perflaw.optimizer.cli.main.

The import sits inside the Ctrl-C guard: an interrupt while Python is still loading perflaw is one
line and exit status 130 too, not a traceback or a death by signal."""

import sys


def run() -> int:
    try:
        from perflaw.optimizer.cli.main import main
    except KeyboardInterrupt:
        print("interrupted: nothing was started", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
