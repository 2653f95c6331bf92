"""In-process generation with ``transformers`` (CPU, CUDA or MPS).

Requests are rendered with the tokenizer's chat template and decoded in batches
by :func:`explainrec.llm.decode.decode_batch` (prefix reuse from a
:class:`PrefixStore`, finished rows leave the batch); requests with different
:class:`GenerationConfig` never share a batch. Greedy decoding of a batch gives the
same text as decoding each prompt alone, with or without prefix reuse, which the
tests check.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from explainrec.core.errors import LLMUnavailable
from explainrec.llm.decode import DecodeProfile, decode_batch, next_token_logprobs
from explainrec.llm.kvcache import has_sliding_layers
from explainrec.llm.machine import cpu_has_amx_bf16, machine_facts
from explainrec.llm.options import TOP_K, Query, score_with
from explainrec.llm.prefix import PrefixStore
from explainrec.llm.render import plain_prompt
from explainrec.llm.spec import BUNDLED, LLMSpec
from explainrec.llm.types import ChatRequest, Completion, GenerationConfig, ScoreRequest, Scored, truncate_at_stop

#: options that may be passed through ``LLMSpec.extra`` to ``from_pretrained``
_LOAD_EXTRA = ("gguf_file", "revision", "trust_remote_code", "attn_implementation")


def pick_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; anything else unchanged."""
    import torch

    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def backend_identity(spec: LLMSpec, dtype: Any) -> str:
    """What the response cache keys a local model's answers on: the spec's identity and the resolved
    dtype, which changes greedy outputs, so the cache never mixes two dtypes."""
    return f"{spec.cache_identity()}|{str(dtype).replace('torch.', '')}"


def pick_dtype(dtype: str, device: str) -> Any:
    """``auto`` -> bfloat16 on CUDA when supported (else float16); on CPU bfloat16 where
    the CPU has AMX (bench/llm_throughput.py: about 1.9x the tokens/s of float32 on
    2 cores), else float32; float32 on MPS. Any other value is taken as it is."""
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device == "cpu" and cpu_has_amx_bf16():
        return torch.bfloat16
    return torch.float32


def _is_local_path(model: str) -> bool:
    """A folder path rather than a hub id (``name`` or ``org/name``)."""
    return (model.startswith(("/", "./", "../", "~", ".\\")) or model.count("/") >= 2
            or Path(model).expanduser().exists())


class TransformersBackend:
    """A causal LM loaded with ``AutoModelForCausalLM`` from a folder or hub id."""

    def __init__(self, spec: LLMSpec):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = spec
        self.preferred_batch = max(1, int(spec.batch_size))
        model = spec.model
        if model == BUNDLED:
            raise LLMUnavailable(
                f"llms.{spec.name}.model is {BUNDLED}, which the assets stage materialises: "
                "run `dvc repro assets_llm` first and use its llm.json"
            )
        local = _is_local_path(model)
        if local:
            model = str(Path(model).expanduser())
            if not Path(model).is_dir():
                raise LLMUnavailable(f"model folder {model} does not exist (llms.{spec.name}.model); "
                                     "for the pipeline's default model run `dvc repro assets_llm` first")
        self.device = pick_device(spec.device)
        self.dtype = pick_dtype(spec.dtype, self.device)
        self.identity = backend_identity(spec, self.dtype)
        if self.device == "cpu" or spec.threads:
            torch.set_num_threads(spec.threads or os.cpu_count() or 1)
        extra = {k: spec.extra[k] for k in _LOAD_EXTRA if k in spec.extra}
        tok_extra = {k: v for k, v in extra.items() if k != "attn_implementation"}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left", **tok_extra)
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=self.dtype, **extra)
        except (OSError, ValueError) as e:
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
            if local:
                raise LLMUnavailable(f"cannot load the model folder {model}: {reason}") from e
            raise LLMUnavailable(
                f"cannot load {model!r}: it is not a local folder and the Hugging Face hub is unreachable "
                f"or refused it ({reason}); download it on a machine with internet, or point "
                f"llms.{spec.name}.model at a local folder"
            ) from e
        self.model.to(self.device).eval()
        tok = self.tokenizer
        tok.padding_side = "left"
        if tok.pad_token is None:
            if tok.eos_token is None:
                raise LLMUnavailable(f"the tokenizer of {model} has neither a pad nor an eos token")
            tok.pad_token = tok.eos_token
        gen_eos = self.model.generation_config.eos_token_id
        eos = set(gen_eos if isinstance(gen_eos, list) else [gen_eos] if gen_eos is not None else [])
        if tok.eos_token_id is not None:
            eos.add(tok.eos_token_id)
        self.eos_ids: set[int] = eos
        self.pad_id: int = tok.pad_token_id
        self.has_template = bool(getattr(tok, "chat_template", None))
        self.profile = DecodeProfile()
        self.prefix_store: PrefixStore | None = None
        if spec.prefix_cache_mb and not has_sliding_layers(self.model.config):
            self.prefix_store = PrefixStore(spec.prefix_cache_mb * 2**20)
        self.machine = machine_facts(self.device, self.dtype)
        self._vocab_cache: tuple[list[str], dict[str, list[int]], dict[str, list[int]]] | None = None

    # -- prompts ---------------------------------------------------------
    def render(self, request: ChatRequest | ScoreRequest) -> str:
        """The prompt string fed to the model (chat template, or the plain fallback); a last
        assistant turn is left open for the model to continue."""
        if not self.has_template:
            return plain_prompt(request.messages)
        msgs = request.openai_messages()
        turn = {"add_generation_prompt": not request.continues, "continue_final_message": request.continues}
        try:
            return self.tokenizer.apply_chat_template(msgs, tokenize=False, **turn)
        except Exception:  # some templates reject a system turn: fold it into the first user turn
            if msgs[0]["role"] != "system" or len(msgs) < 2:
                raise
            merged = [{"role": msgs[1]["role"], "content": msgs[0]["content"] + "\n\n" + msgs[1]["content"]}]
            return self.tokenizer.apply_chat_template(merged + msgs[2:], tokenize=False, **turn)

    def token_ids(self, request: ChatRequest | ScoreRequest) -> list[int]:
        """The rendered prompt's token ids, unpadded (what the model is fed)."""
        return self._encode([self.render(request)])["input_ids"][0].tolist()

    def _encode(self, prompts: list[str]) -> Any:
        # a chat template already contains the special tokens it needs (e.g. BOS)
        return self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=not self.has_template)

    def count_prompt_tokens(self, request: ChatRequest) -> int:
        return len(self.token_ids(request))

    # -- generation ------------------------------------------------------
    def generate(self, batch: list[ChatRequest]) -> list[Completion]:
        """One completion per request, in order; groups requests by their GenerationConfig."""
        out: list[Completion | None] = [None] * len(batch)
        groups: dict[GenerationConfig, list[int]] = {}
        for i, r in enumerate(batch):
            groups.setdefault(r.params, []).append(i)
        for params, idx in groups.items():
            for s in range(0, len(idx), self.preferred_batch):
                part = idx[s : s + self.preferred_batch]
                for i, c in zip(part, self._generate_group([batch[i] for i in part], params)):
                    out[i] = c
        return [c for c in out if c is not None]

    # -- option scoring ----------------------------------------------------
    def scoring_unavailable(self) -> str | None:
        """None: a local model always gives its token log-probabilities."""
        return None

    def score(self, batch: list[ScoreRequest]) -> list[Scored]:
        """The log-probability of each request's options (:mod:`explainrec.llm.options`), exact
        for every token that opens an option and for the :data:`~explainrec.llm.options.TOP_K`
        most likely at each node."""
        prompts = {r: self.token_ids(r) for r in dict.fromkeys(batch)}
        return score_with(batch, lambda queries: self._step(queries, prompts), lambda r: len(prompts[r]))

    def _vocab(self) -> tuple[list[str], dict[str, list[int]], dict[str, list[int]]]:
        """Each token id's text, and text -> ids, as written and without leading whitespace."""
        if self._vocab_cache is None:
            texts = self.tokenizer.batch_decode([[i] for i in range(len(self.tokenizer))])
            exact: dict[str, list[int]] = {}
            stripped: dict[str, list[int]] = {}
            for i, t in enumerate(texts):
                exact.setdefault(t, []).append(i)
                stripped.setdefault(t.lstrip(), []).append(i)
            self._vocab_cache = (texts, exact, stripped)
        return self._vocab_cache

    def _step(self, queries: list[Query], prompts: dict[ScoreRequest, list[int]]) -> list[list[tuple[int, str, float]]]:
        import torch

        texts, exact, stripped = self._vocab()
        out = []
        for s in range(0, len(queries), self.preferred_batch):
            part = queries[s : s + self.preferred_batch]
            rows = [prompts[r] + list(path) for r, path, _ in part]
            logprobs = next_token_logprobs(self.model, rows, pad_id=self.pad_id, store=self.prefix_store,
                                           profile=self.profile)
            top = torch.topk(logprobs, min(TOP_K, logprobs.shape[-1]), dim=-1).indices.tolist()
            for (r, path, wanted), lp, best in zip(part, logprobs, top):
                best = [i for i in best if i < len(texts)]  # a padded vocabulary has rows no token uses
                table = exact if path else stripped
                ids = dict.fromkeys(best + [i for w in wanted for i in table.get(w, ())])
                values = lp[list(ids)].tolist()
                out.append([(i, texts[i], v) for i, v in zip(ids, values)])
        return out

    def _stop_check(self, stop: tuple[str, ...]) -> Any:
        if not stop:
            return None

        def hit(new_ids: list[int]) -> bool:
            text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
            return any(s in text for s in stop)

        return hit

    def _generate_group(self, requests: list[ChatRequest], params: GenerationConfig) -> list[Completion]:
        prompts = [self.token_ids(r) for r in requests]
        rows = decode_batch(self.model, prompts, params, pad_id=self.pad_id, eos_ids=self.eos_ids,
                            store=self.prefix_store, drop_finished=self.spec.drop_finished,
                            stop_hit=self._stop_check(params.stop), profile=self.profile)
        result = []
        for ids, row in zip(prompts, rows):
            text = self.tokenizer.decode(row.ids, skip_special_tokens=True)
            text, _ = truncate_at_stop(text, params.stop)
            result.append(Completion(text.strip(), len(ids), len(row.ids)))
        return result
