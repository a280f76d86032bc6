"""``exptflow init``: a starter sweep file from a training script's argparse parser."""
