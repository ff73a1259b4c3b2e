"""The `nas` command line: one module per sub-command; the CLI owns the terminal."""
