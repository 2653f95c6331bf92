"""The shared core beneath the methods: what more than one method (or every stage) uses.

Settings checks and errors (``config``, ``errors``), atomic files (``io``), seeds
(``seeding``), resumable training (``checkpoints``), multi-process launch (``launch``),
intervals, text helpers, the sentence encoder, seeded caps on pairs, freezing an LM, review
rewriting (XRec's ground truth), the profile store, the explanation prompt and pairs that
SFT and XRec train on, the contrastive-explanation prompts of LR-Recsys and RecPIE, and the
explanation-aware recommender (text autoencoder and DNN) both of those train.

A method package (profiles, cpeg, sft, lrrecsys, xrec, recpie) imports this package and the
llm / data / evaluation / assets layers, never another method; tests/test_imports.py holds
that contract.
"""
