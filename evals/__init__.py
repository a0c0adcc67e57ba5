"""Batch scoring, persona fidelity, benchmarks and calibration."""
