"""The ``perflaw`` command line: the parser, flags shared by commands, one module per command, text."""
