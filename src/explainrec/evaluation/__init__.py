"""Scoring generated explanations against references, and the ground-truth study.

* :mod:`~explainrec.evaluation.text`: BERTScore, ROUGE-1/2/L, BLEU-1/4, USR;
* :mod:`~explainrec.evaluation.judge`: LLM judges (XRec's GPTScore, the choice judge);
* :mod:`~explainrec.evaluation.learned`: BLEURT and BARTScore from a local checkpoint;
* :mod:`~explainrec.evaluation.report`: one explainer's scores, the Table 1 summary;
* :mod:`~explainrec.evaluation.ground_truth`: judging ground-truth quality (paper 000 §4.4;
  the stages' runner is :mod:`explainrec.experiments.ground_truth`).

The modules are imported one by one (nothing here), so a stage depends only on
the modules it uses; torch, transformers and the metric libraries load only when
a metric runs.
"""
