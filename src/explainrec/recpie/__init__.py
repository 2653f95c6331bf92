"""RecPIE (paper 002): a recommender and an LLM explainer trained in alternation, the explainer by RL.

* :mod:`~explainrec.recpie.config`: the typed params (``recpie``, ``recpie.explainer``, ``recpie.rl``);
* :mod:`~explainrec.recpie.soft_prompt`: the consumer embedding E_c as a soft prompt (one reserved
  token per consumer, replaced by a learned projection of its E_c row);
* :mod:`~explainrec.recpie.explainer`: the local LLM with a LoRA adapter and the soft prompt, its
  prompts (LR-Recsys's), cached generation and the KL to the reference policy;
* :mod:`~explainrec.recpie.recommender`: f(x, e), LR-Recsys's DNN on embedded explanations;
* :mod:`~explainrec.recpie.rl`: the reward r(e) = 1 / (1 + |y - f(x, e)|) and the GRPO update;
* :mod:`~explainrec.recpie.aspects`: derived aspect terms and the Coverage metric;
* :mod:`~explainrec.recpie.loop`: the resumable alternation, one persisted state per round.
"""
