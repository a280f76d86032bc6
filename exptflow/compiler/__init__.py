"""A sweep → a plan of jobs → the generated Snakefile, experiments table and profiles."""
