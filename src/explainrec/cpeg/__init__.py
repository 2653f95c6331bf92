"""CPEG: Contrastive Prompting for ground-truth Explanation Generation (paper 000 §3.2).

``negatives``: hard (most profile-similar) and random never-interacted items per pair;
``prompts``: P and P_retry; ``parse``: reading a small model's answer; ``loop``: the
Discrimination + Refinement rounds through the cached LLM layer.

The modules are imported one by one (nothing is re-exported here), so a stage
depends only on the modules it uses.
"""
