"""Scoring generated explanations against references: text overlap and similarity
(BERTScore, ROUGE, BLEU, USR), LLM judges (GPTScore, choice) and learned metrics
that need a local checkpoint (BLEURT, BARTScore).

torch, transformers and the metric libraries load only when a metric runs.
"""

from explainrec.evaluation.judge import choice_request, gptscore, parse_choice, parse_score
from explainrec.evaluation.learned import bartscore, bleurt, learned_metric, not_computed
from explainrec.evaluation.text import bertscore, bleu, rouge, rouge_l, usr

__all__ = ["bartscore", "bertscore", "bleu", "bleurt", "choice_request", "gptscore", "learned_metric",
           "not_computed", "parse_choice", "parse_score", "rouge", "rouge_l", "usr"]
