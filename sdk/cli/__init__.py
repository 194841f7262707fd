"""The ``biogate`` command line: one entry point, one module per subcommand.

Each ``biogate.cli.cmd_<name>`` module defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; :mod:`biogate.cli.main` discovers them,
so a subsystem adds a command without touching a shared file.
"""
