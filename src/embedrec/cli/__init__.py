"""The ``embedrec`` command line (click); see :mod:`embedrec.cli.main`."""

from .main import cli, main

__all__ = ["cli", "main"]
