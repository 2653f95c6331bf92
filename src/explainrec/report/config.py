"""The ``report`` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from explainrec.core.config import check_int
from explainrec.core.errors import ParamError


@dataclass(frozen=True)
class ReportConfig:
    """``title``: the page's heading; ``sample_pairs``: how many test pairs the browsable
    sample shows (the first by user and item; 0: all); ``profile_chars``: where a profile
    is cut in the sample (0: never)."""

    title: str = "explainrec: run report"
    sample_pairs: int = 200
    profile_chars: int = 600

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise ParamError("title", "a non-empty string", self.title)
        check_int(self.sample_pairs, "sample_pairs", 0)
        check_int(self.profile_chars, "profile_chars", 0)
