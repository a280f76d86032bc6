"""The sweep file: YAML, the sweep model, expansion into experiments, commands and names."""
