"""Shared fixtures: the real models, loaded once per test run, and the samples."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from assistant import Assistant

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def sample_transcripts() -> dict[str, str]:
    """File name -> reference transcript for every sample."""
    with (SAMPLES / "samples.tsv").open(newline="") as fh:
        return {row["file"]: row["transcript"] for row in csv.DictReader(fh, delimiter="\t")}


@pytest.fixture(scope="session")
def assistant() -> Assistant:
    """All real models, loaded once (a few seconds)."""
    return Assistant().load()
