"""Synthetic tabletop referring-segmentation data generated with MuJoCo (`vipa gen-tabletop`)."""
