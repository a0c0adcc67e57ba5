"""The transcript contract (see DESIGN.md) and JSON Lines round-trip.

Multi-format readers (CSV, plain text, speaker aliases) live in ``simulator.transcript_formats``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Speaker = Literal["agent", "debtor", "third_party"]


class Turn(BaseModel):
    model_config = ConfigDict(extra="allow")

    speaker: Speaker
    text: str


class Transcript(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    language: str = "en"
    persona: str | None = None
    turns: list[Turn] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def agent_turns(self) -> list[tuple[int, Turn]]:
        return [(i, t) for i, t in enumerate(self.turns) if t.speaker == "agent"]

    def to_json_line(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), ensure_ascii=False)


def append_jsonl(path: Path | str, transcript: Transcript) -> None:
    """Append one call to a JSONL file (creating folders as needed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(transcript.to_json_line() + "\n")


def write_jsonl_atomic(path: Path | str, transcripts: list[Transcript]) -> None:
    """Write all calls to ``path`` atomically: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for t in transcripts:
                fh.write(t.to_json_line() + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_jsonl(path: Path | str) -> list[Transcript]:
    """Read a contract-conformant JSONL file (strict; use transcript_formats for lenient reading)."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(Transcript.model_validate_json(line))
    return out
