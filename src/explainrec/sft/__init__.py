"""Supervised fine-tuning of the explanation generator (paper 000 §3.3) and generation with it.

* :mod:`explainrec.core.explanation_prompt`: the Fig. 4 prompt and the target normalisation (shared with ablations)
* :mod:`explainrec.core.explanation_pairs`: train/test pairs from profiles plus CPEG or reference explanations
* :mod:`explainrec.sft.train`: trl ``SFTTrainer`` (LoRA merged, or full fine-tuning)
* :mod:`explainrec.sft.generate`: explanations for the test pairs through the LLM layer, scored

The modules are imported one by one (nothing is re-exported here), so a stage
depends only on the modules it uses.
"""
