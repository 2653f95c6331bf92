"""Scoring generated explanations against references (BERTScore, ROUGE-L)."""

from explainrec.evaluation.text import bertscore, rouge_l

__all__ = ["bertscore", "rouge_l"]
