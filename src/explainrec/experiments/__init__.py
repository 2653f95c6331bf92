"""Experiment runners that combine the methods' building blocks (paper 000 §4.3 and §4.4).

* :mod:`~explainrec.experiments.ablation`: an explainer built without SFT or without
  PGHIS profiles (``ablation@<name>``);
* :mod:`~explainrec.experiments.ground_truth`: ground-truth quality, CPEG per (k, m)
  against the review and XRec's rewrite, judged twice (``gt_cpeg@<name>``,
  ``gt_rewrite``, ``gt_judge``); the judging logic itself is
  :mod:`explainrec.evaluation.ground_truth`.

The modules are imported one by one (nothing is re-exported here).
"""
