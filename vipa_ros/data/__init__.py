"""Datasets: RefCOCO-family loader, torch Dataset, synthetic tabletop generator."""
