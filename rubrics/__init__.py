"""Rubrics (YAML), the compliance rulebook and the scorer."""
