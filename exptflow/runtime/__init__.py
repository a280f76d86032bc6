"""What runs inside and around Snakemake's jobs: the job wrapper, GPU slots, supervision,
hooks, provenance, the in-job metrics API and launching Snakemake.

Stdlib only (gitpython and the collector are imported lazily, where used): every job
imports it."""
