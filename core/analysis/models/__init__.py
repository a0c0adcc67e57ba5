"""Small trained components of the turn analysis, shipped as package data (JSON, with a card).

* ``abuse.json`` / ``abuse.md``: the abuse detector's n-gram model (``training/train_abuse.py``).
* ``clarity.json`` / ``clarity.md``: the clarity reading's readability model
  (``training/train_clarity.py``).
* ``reflection.json`` / ``reflection.md``: the empathy reading's reflection term
  (``training/train_reflection.py``).
"""
