"""The shared core: the transcript contract, transcript readers, data-file loading and turn analysis.

Imports nothing of callcoach above it (see docs/DESIGN.md).
"""
