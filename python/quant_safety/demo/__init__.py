"""Deterministic generator of SYNTHETIC raw demo data, calibrated to the published
TR142 v3 cell values (see README.md). Not the original evaluation samples."""
from .generate import generate_demo, generate_variant

__all__ = ["generate_demo", "generate_variant"]
