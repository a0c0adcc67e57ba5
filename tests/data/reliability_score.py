"""`callcoach score` with the tests' stand-in analyzer (no model), run as a real process.

Usage: ``python tests/data/reliability_score.py INPUT... [score options]``. The stand-in is
installed when this file is imported, so ``--workers`` processes (which start by importing this
file as ``__mp_main__``) score with it too.

Environment: ``RELIABILITY_DELAY`` seconds each chunk takes; ``RELIABILITY_BUSY_DIR`` a folder
where each process writes a file named by its pid when it starts scoring a chunk.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the stand-in analyzer

from batch_support import BlankAnalyzer  # noqa: E402

import rubrics.batch as batch  # noqa: E402
from rubrics.scorer import Scorer  # noqa: E402


class BusyAnalyzer(BlankAnalyzer):
    """Says (by a file) which process is scoring, then takes ``delay`` seconds a chunk."""

    def analyze_many(self, transcripts):
        busy = os.environ.get("RELIABILITY_BUSY_DIR")
        if busy:
            (Path(busy) / str(os.getpid())).touch()
        return super().analyze_many(transcripts)


batch._make_scorer = lambda rubric: Scorer(rubric, BusyAnalyzer(float(os.environ.get("RELIABILITY_DELAY", "0"))))

if __name__ == "__main__":
    from callcoach.cli import main

    sys.argv = ["callcoach", "score", *sys.argv[1:]]
    main()
