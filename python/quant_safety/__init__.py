"""Quant-safety warehouse: demo data, statistics, data-quality gate and CLI."""
__version__ = "0.1.0"
