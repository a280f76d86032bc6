"""``python -m exptflow``: the same as the ``exptflow`` command."""

from exptflow.cli.main import entry

entry()
