"""The explainer: the local LLM with a LoRA adapter (ours) and the consumer soft prompt (paper 002 §2.1).

It is prompted with paper 002's App. A.1 template (``template: app_a1``, :func:`app_a1_message`:
"Provide a reason for why this user purchased (or did not purchase) this product, based on the
provided profile of the past products the user purchased, and the profile of the current
product. Answer with exactly one sentence in the following format: 'The user purchased (or did
not purchase) this product because the user ... and the product ...'.", in the dataset's domain
words, followed by the history's item profiles and the candidate's profile) or with LR-Recsys's
prompts (``template: lrrecsys``, :mod:`explainrec.core.domain_prompts`, "consumer" replaced by
``person``), and writes one positive and one negative explanation per pair, each opening with
the format's words. The user turn starts with the consumer's reserved token, where
:class:`~explainrec.recpie.soft_prompt.SoftPrompt` puts ``proj(E_c[user])``.

Generation is the project's local backend (greedy, batched, prefix reuse; it stops at the
sentence's end) running the explainer's weights; every answer goes through the LLM layer's
response cache under the base model's identity, the hash of the
trainable state (LoRA weights, projection and E_c) and the request, so a rerun with the same
state generates nothing. :func:`kl_to_reference` measures KL(policy || reference) on given
completions, the reference being the initial explainer (adapter disabled, soft prompt zeroed).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from explainrec.core.domain_prompts import Domain, answer_opening, opening, user_message
from explainrec.llm.types import ChatRequest
from explainrec.recpie.config import RecPIEExplainerConfig
from explainrec.recpie.soft_prompt import SoftPrompt, add_user_tokens, user_token

STATE_FILE = "explainer.pt"


@dataclass
class Explainer:
    """A peft-wrapped causal LM, its tokenizer and the soft prompt hooked into it."""

    backend: Any  # explainrec.llm.local.TransformersBackend, whose model is the peft-wrapped one's base
    model: Any
    soft_prompt: SoftPrompt
    user_ids: list[int]
    base_identity: str

    @property
    def tokenizer(self) -> Any:
        return self.backend.tokenizer

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """The LoRA weights and the soft prompt (projection and E_c): all that RL and the rounds change."""
        from peft import get_peft_model_state_dict

        state = {f"lora.{k}": v for k, v in get_peft_model_state_dict(self.model, save_embedding_layers=False).items()}
        state.update({f"soft_prompt.{k}": v for k, v in self.soft_prompt.state_dict().items()})
        return state

    def state_hash(self) -> str:
        """sha256 of :meth:`trainable_state` (names, shapes and bytes)."""
        h = hashlib.sha256()
        for name, t in sorted(self.trainable_state().items()):
            h.update(name.encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(t.detach().cpu().float().contiguous().numpy().tobytes())
        return h.hexdigest()

    def save(self, folder: str | Path) -> None:
        torch.save({k: v.detach().cpu() for k, v in self.trainable_state().items()}, Path(folder) / STATE_FILE)

    def load(self, folder: str | Path) -> None:
        from peft import set_peft_model_state_dict

        state = torch.load(Path(folder) / STATE_FILE, weights_only=True)
        set_peft_model_state_dict(self.model, {k[5:]: v for k, v in state.items() if k.startswith("lora.")})
        self.soft_prompt.load_state_dict({k[12:]: v for k, v in state.items() if k.startswith("soft_prompt.")})


def build_explainer(backend: Any, n_users: int, dim: int, config: RecPIEExplainerConfig, seed: int) -> Explainer:
    """Add the user tokens to ``backend``'s model, freeze it, wrap it with a fresh LoRA adapter
    (seeded; B = 0, so it starts as the base model) and hook a zero soft prompt of width ``dim``
    into it. peft injects the LoRA layers into the model's own modules, so the backend's
    decoding runs the explainer as it stands."""
    from peft import LoraConfig, get_peft_model

    from explainrec.core.errors import ParamError
    from explainrec.core.frozen import freeze

    model, tokenizer = backend.model, backend.tokenizer
    ids = add_user_tokens(tokenizer, model, n_users)
    freeze(model)
    torch.manual_seed(seed)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            peft_model = get_peft_model(model, lora)
    except ValueError as e:
        raise ParamError("explainer.target_modules", f"module names of the base model ({str(e).splitlines()[0][:120]})",
                         list(config.target_modules)) from e
    hidden = int(model.get_input_embeddings().weight.shape[1])
    soft = SoftPrompt(ids[0], n_users, dim, hidden)
    # a submodule of the model, so trl's optimiser (model.parameters() with requires_grad) trains it
    peft_model.get_base_model().recpie_soft_prompt = soft
    for p in soft.parameters():
        p.requires_grad_(True)
    soft.attach(peft_model)
    peft_model.eval()
    return Explainer(backend, peft_model, soft, ids, str(backend.identity))


def _person(text: str, person: str) -> str:
    return text if person == "consumer" else text.replace("consumer", person)


def app_a1_message(domain: Domain, positive: bool, history: Sequence[str], candidate: str, person: str) -> str:
    """Paper 002's App. A.1 prompt in ``domain``'s words ("purchased this product" -> "watched this
    movie", as the appendix allows), then the history's item texts (oldest first) and the candidate's."""
    act = domain.did if positive else domain.did_not
    head = f"The {person} {act} this {domain.item} because"
    seq = " | ".join(history) if history else "(none)"
    return (f"Provide a reason for why this {person} {act} this {domain.item}, based on the provided profile of "
            f"the past {domain.items} the {person} {domain.did}, and the profile of the current {domain.item}. "
            f"Answer with exactly one sentence in the following format: '{head} the {person} ... and the "
            f"{domain.item} ...'.\n\nProfiles of the past {domain.items}: {seq}\n"
            f"Profile of the current {domain.item}: {candidate}")


def explanation_request(history: Sequence[str], candidate: str, user: int, positive: bool, domain: Domain,
                        style: str, prompt: str, config: RecPIEExplainerConfig) -> ChatRequest:
    """The prompt for one explanation (``config.template``: App. A.1's, or LR-Recsys's ``style`` and
    ``prompt``), the consumer's reserved token first in the user turn, the answer opened with the
    format's words."""
    if config.template == "app_a1":
        message = app_a1_message(domain, positive, history, candidate, config.person)
        start = explanation_head(domain, positive, config.person)
    else:
        message = _person(user_message(style, prompt, domain, positive, list(history), candidate), config.person)
        start = _person(answer_opening(style, prompt, domain, positive), config.person)
    return ChatRequest.of(None, f"{user_token(user)} {message}", opening=start,
                          max_new_tokens=config.max_new_tokens, stop=(".", "\n"))


def explanation_head(domain: Domain, positive: bool, person: str) -> str:
    """The words every explanation opens with ("The user watched this movie because")."""
    return _person(opening(domain, positive), person)


def render(explainer: Explainer, request: ChatRequest) -> str:
    """The prompt text the backend feeds the model (chat template, the assistant turn left open);
    trl tokenises the same text in the RL step."""
    return explainer.backend.render(request)


def sentence(head: str, completion: str) -> str:
    """The explanation: ``head`` and the completion up to its first sentence end, as one sentence."""
    from explainrec.llm.types import truncate_at_stop

    text, _ = truncate_at_stop(completion, (".", "\n"))
    body = " ".join(text.split())
    return f"{head} {body}".rstrip(" ,;:") + "."


class _StateBackend:
    """The project's local backend under an identity that names the explainer's state, so the
    response cache keys every answer on it (what :class:`~explainrec.llm.client.LLM` reads)."""

    def __init__(self, backend: Any, identity: str) -> None:
        self.backend, self.identity = backend, identity
        self.preferred_batch = backend.preferred_batch
        self.machine = getattr(backend, "machine", None)
        self.profile = getattr(backend, "profile", None)

    def generate(self, batch: list[ChatRequest]) -> list[Any]:
        return self.backend.generate(batch)


def explain(explainer: Explainer, requests: dict[bool, Sequence[ChatRequest]],
            cache_path: str | Path | None = None, progress: bool = False,
            desc: str = "recpie explain") -> tuple[dict[bool, list[str]], dict[str, Any]]:
    """The raw completions of the positive (``True``) and negative requests, generated by the
    project's local backend (batched greedy decoding, prefix reuse, finished rows dropped) with
    the explainer's current weights, cached by content and the explainer's state hash; and the
    LLM statistics. The positives go first, so each negative prompt reuses its positive's
    KV for their shared opening (the user token and the history); the prefix store is emptied
    first, since stored KV from an earlier state would be stale."""
    from explainrec.llm.cache import ResponseCache, default_cache_path
    from explainrec.llm.client import LLM
    from explainrec.llm.prefix import PrefixStore

    backend = explainer.backend
    if getattr(backend, "prefix_store", None) is not None:
        backend.prefix_store = PrefixStore(backend.prefix_store.max_bytes)
    identity = f"recpie|{explainer.base_identity}|state:{explainer.state_hash()}"
    was = explainer.model.training
    explainer.model.eval()
    with ResponseCache(cache_path or default_cache_path()) as cache:
        llm = LLM(_StateBackend(backend, identity), cache, desc=desc, progress=progress)
        out = {kind: [c.text for c in llm.chat(list(requests[kind]), desc=f"{desc} {name}")]
               for kind, name in ((True, "positive"), (False, "negative"))}
    explainer.model.train(was)
    return out, llm.stats.as_metrics()


def _logprobs(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)


def kl_to_reference(explainer: Explainer, prompts: Sequence[str], completions: Sequence[str],
                    batch_size: int = 8) -> float:
    """Mean over completion tokens of KL(policy || reference) at each position, the full
    next-token distributions compared; the reference is the adapter disabled and the soft
    prompt zeroed (the initial explainer). 0.0 without completions."""
    tok, model = explainer.tokenizer, explainer.model
    rows, starts = [], []
    for p, c in zip(prompts, completions):
        pi = tok(p)["input_ids"]
        ci = tok(c, add_special_tokens=False)["input_ids"]
        if ci:
            rows.append(pi + ci)
            starts.append(len(pi))
    if not rows:
        return 0.0
    total, count = 0.0, 0
    device = model.get_input_embeddings().weight.device  # the batches go where the model is
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(rows), batch_size):
                part, st = rows[s:s + batch_size], starts[s:s + batch_size]
                width = max(len(r) for r in part)
                ids = torch.full((len(part), width), int(tok.pad_token_id), dtype=torch.long)
                mask = torch.zeros_like(ids)
                keep = torch.zeros_like(ids, dtype=torch.bool)
                for j, (r, a) in enumerate(zip(part, st)):
                    ids[j, :len(r)] = torch.tensor(r)
                    mask[j, :len(r)] = 1
                    keep[j, a - 1:len(r) - 1] = True  # positions predicting a completion token
                ids, mask = ids.to(device), mask.to(device)
                policy = _logprobs(model, ids, mask)
                with model.disable_adapter(), explainer.soft_prompt.zeroed():
                    reference = _logprobs(model, ids, mask)
                kl = (policy.exp() * (policy - reference)).sum(-1)
                total += float(kl[keep.to(device)].sum())
                count += int(keep.sum())
    finally:
        model.train(was)
    return max(total / max(count, 1), 0.0)
