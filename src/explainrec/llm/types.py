"""Value types shared by every LLM backend: requests, parameters, completions.

All of them are frozen (hashable, safe to use as dict keys and to cache), and
normalise their fields on construction so that ``0`` and ``0.0`` or a list and
a tuple of stop strings give the same request and hence the same cache key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from explainrec.errors import ParamError

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class GenParams:
    """Decoding parameters. ``temperature == 0`` means greedy decoding."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.max_new_tokens, bool) or int(self.max_new_tokens) < 1:
            raise ParamError("max_new_tokens", "a positive integer", self.max_new_tokens)
        if not 0.0 <= float(self.temperature) <= 2.0:
            raise ParamError("temperature", "a number in [0, 2]", self.temperature)
        if not 0.0 <= float(self.top_p) <= 1.0:
            raise ParamError("top_p", "a number in [0, 1]", self.top_p)
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        if any(not isinstance(s, str) or not s for s in stop):
            raise ParamError("stop", "non-empty strings", self.stop)
        object.__setattr__(self, "max_new_tokens", int(self.max_new_tokens))
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "top_p", float(self.top_p))
        object.__setattr__(self, "stop", stop)
        object.__setattr__(self, "seed", int(self.seed))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d


@dataclass(frozen=True)
class ChatRequest:
    """A conversation to continue: ``(role, content)`` turns plus decoding parameters."""

    messages: tuple[tuple[str, str], ...]
    params: GenParams = field(default_factory=GenParams)

    def __post_init__(self) -> None:
        msgs = tuple((str(r), str(c)) for r, c in self.messages)
        if not msgs:
            raise ParamError("messages", "at least one (role, content) turn", self.messages)
        bad = [r for r, _ in msgs if r not in ROLES]
        if bad:
            raise ParamError("messages.role", f"one of {', '.join(ROLES)}", bad[0])
        object.__setattr__(self, "messages", msgs)

    @classmethod
    def of(cls, system: str | None, user: str, **gen: Any) -> "ChatRequest":
        """A one-turn request: optional system prompt, a user message, GenParams fields."""
        msgs: list[tuple[str, str]] = [("system", system)] if system else []
        msgs.append(("user", user))
        return cls(tuple(msgs), GenParams(**gen))

    def openai_messages(self) -> list[dict[str, str]]:
        """The turns in the ``[{"role": ..., "content": ...}]`` form chat APIs take."""
        return [{"role": r, "content": c} for r, c in self.messages]

    @property
    def n_chars(self) -> int:
        """Prompt length in characters (what the client sorts on to batch similar lengths)."""
        return sum(len(c) for _, c in self.messages)


@dataclass(frozen=True)
class Completion:
    """A generated answer. Token counts exclude padding and the end-of-sequence token."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool = False


@runtime_checkable
class Backend(Protocol):
    """What :class:`explainrec.llm.client.LLM` needs from a model.

    ``identity`` keys the response cache (it must change whenever outputs
    could); ``preferred_batch`` is how many requests ``generate`` should get at
    once; ``generate`` returns one completion per request, in order.
    """

    identity: str
    preferred_batch: int

    def generate(self, batch: list[ChatRequest]) -> list[Completion]: ...


def truncate_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string; also say whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
