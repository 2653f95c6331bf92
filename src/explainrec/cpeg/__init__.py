"""CPEG: Contrastive Prompting for ground-truth Explanation Generation (paper 000 §3.2).

``negatives``: hard (most profile-similar) and random never-interacted items per pair;
``prompts``: P and P_retry; ``parse``: reading a small model's answer; ``loop``: the
Discrimination + Refinement rounds through the cached LLM layer.
"""

from explainrec.cpeg.loop import CPEGConfig, CPEGResult, Pair, build_pairs, generate_explanations, run_rounds, \
    write_explanations
from explainrec.cpeg.negatives import NegativeConfig, Negatives, load_encoder, read_negatives, sample_negatives, \
    write_negatives
from explainrec.cpeg.parse import Parsed, parse_answer
from explainrec.cpeg.prompts import SYSTEM_PROMPT, Candidate, ErrorExample, user_message

__all__ = [
    "CPEGConfig",
    "CPEGResult",
    "Candidate",
    "ErrorExample",
    "NegativeConfig",
    "Negatives",
    "Pair",
    "Parsed",
    "SYSTEM_PROMPT",
    "build_pairs",
    "generate_explanations",
    "load_encoder",
    "parse_answer",
    "read_negatives",
    "run_rounds",
    "sample_negatives",
    "user_message",
    "write_explanations",
    "write_negatives",
]
