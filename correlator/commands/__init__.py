"""CLI subcommands, one module each; see `correlator.cli`."""
