"""``python -m exptflow.cli``: the same as the ``exptflow`` command."""

from exptflow.cli.main import entry

entry()
