"""Shipped persona files (YAML). See README.md in this folder."""
