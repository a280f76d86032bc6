"""exptflow: machine-learning experiment sweeps compiled into Snakemake workflows.

Importing this package stays cheap (it is imported by every job): heavier parts load on use.
"""

from __future__ import annotations

__version__ = "0.1.0"
