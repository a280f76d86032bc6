"""The on-disk format: every path, the stage record and its states, the experiments table.

Stdlib only: the job wrapper imports it in every job."""
