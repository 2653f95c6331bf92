"""Value types shared by every LLM backend: requests, parameters, completions.

All of them are frozen (hashable, safe to use as dict keys and to cache), and
normalise their fields on construction so that ``0`` and ``0.0`` or a list and
a tuple of stop strings give the same request and hence the same cache key.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from explainrec.core.errors import ParamError

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class GenerationConfig:
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


def _turns(messages: Any) -> tuple[tuple[str, str], ...]:
    msgs = tuple((str(r), str(c)) for r, c in messages)
    if not msgs:
        raise ParamError("messages", "at least one (role, content) turn", messages)
    bad = [r for r, _ in msgs if r not in ROLES]
    if bad:
        raise ParamError("messages.role", f"one of {', '.join(ROLES)}", bad[0])
    return msgs


def _one_turn(system: str | None, user: str, opening: str = "") -> tuple[tuple[str, str], ...]:
    msgs: list[tuple[str, str]] = [("system", system)] if system else []
    msgs.append(("user", user))
    if opening:
        msgs.append(("assistant", opening))
    return tuple(msgs)


class _Turns:
    """What chat requests and scoring requests share: their ``messages``."""

    messages: tuple[tuple[str, str], ...]

    def openai_messages(self) -> list[dict[str, str]]:
        """The turns in the ``[{"role": ..., "content": ...}]`` form chat APIs take."""
        return [{"role": r, "content": c} for r, c in self.messages]

    @property
    def continues(self) -> bool:
        """Whether the last turn is the answer's opening, to be continued."""
        return self.messages[-1][0] == "assistant"

    @property
    def n_chars(self) -> int:
        """Prompt length in characters (what the client sorts on to batch similar lengths)."""
        return sum(len(c) for _, c in self.messages)


@dataclass(frozen=True)
class ChatRequest(_Turns):
    """A conversation to continue: ``(role, content)`` turns plus decoding parameters.

    A last ``assistant`` turn is the opening of the answer: the model continues it
    (the completion is what comes after it)."""

    messages: tuple[tuple[str, str], ...]
    params: GenerationConfig = field(default_factory=GenerationConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _turns(self.messages))

    @classmethod
    def of(cls, system: str | None, user: str, opening: str = "", **gen: Any) -> "ChatRequest":
        """A one-turn request: optional system prompt, a user message, optionally the
        answer's ``opening`` to continue, GenerationConfig fields."""
        return cls(_one_turn(system, user, opening), GenerationConfig(**gen))

    def cache_payload(self) -> dict[str, Any]:
        """What the response cache keys this request on (besides the model's identity)."""
        return {"messages": [list(m) for m in self.messages], "params": self.params.to_dict()}



#: version of the option-scoring walk (:mod:`explainrec.llm.options`); part of a scoring's cache key
SCORE_METHOD = "option-walk-1"


@dataclass(frozen=True)
class ScoreRequest(_Turns):
    """How likely each of ``options`` is as the model's next words after ``messages``.

    ``messages`` usually end with an ``assistant`` turn, the opening of the answer
    (``"Answer: ["``) that the options continue; without one the options open the answer.
    Options are distinct non-empty strings (``"1"``, ``"2"``, ... or ``"0"`` ... ``"100"``).
    """

    messages: tuple[tuple[str, str], ...]
    options: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _turns(self.messages))
        options = tuple(self.options)
        if not options or any(not isinstance(o, str) or not o.strip() for o in options) \
                or len(set(options)) != len(options):
            raise ParamError("options", "distinct non-empty strings", self.options)
        object.__setattr__(self, "options", options)

    @classmethod
    def of(cls, system: str | None, user: str, options: Any, opening: str = "") -> "ScoreRequest":
        return cls(_one_turn(system, user, opening), tuple(options))

    def cache_payload(self) -> dict[str, Any]:
        return {"messages": [list(m) for m in self.messages], "options": list(self.options), "score": SCORE_METHOD}



@dataclass(frozen=True)
class Scored:
    """The answer to a :class:`ScoreRequest`: the log-probability of each option, in order
    (``-inf`` for an option the model gave no mass that the walk could see)."""

    logprobs: tuple[float, ...]
    prompt_tokens: int = 0
    cached: bool = False

    @property
    def covered(self) -> float:
        """The probability that the answer starts with one of the options."""
        return float(sum(math.exp(x) for x in self.logprobs if x > -math.inf))

    @property
    def probs(self) -> tuple[float, ...]:
        """The option probabilities renormalised to sum to 1 (all 0 when no option got mass)."""
        top = max(self.logprobs)
        if top == -math.inf:
            return tuple(0.0 for _ in self.logprobs)
        w = [math.exp(x - top) if x > -math.inf else 0.0 for x in self.logprobs]
        total = sum(w)
        return tuple(x / total for x in w)

    @property
    def best(self) -> int | None:
        """Index of the most likely option (the first of equals), None when none got mass."""
        top = max(self.logprobs)
        return None if top == -math.inf else self.logprobs.index(top)

    def to_json(self) -> str:
        return json.dumps([x if x > -math.inf else None for x in self.logprobs])

    @classmethod
    def from_json(cls, text: str, prompt_tokens: int = 0, cached: bool = False) -> "Scored":
        return cls(tuple(-math.inf if x is None else float(x) for x in json.loads(text)), prompt_tokens, cached)


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


class ScoringUnsupported(Exception):
    """The backend cannot give token log-probabilities (the message says why)."""


def truncate_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string; also say whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
