"""LR-Recsys (paper 003): LLM contrastive explanations -> text autoencoder -> DNN recommender.

Modules: ``pairs`` (the (user, candidate, last-n history) pairs and their labels),
``prompts`` and ``explain`` (positive / negative explanations through the LLM layer),
``autoencoder`` (the 8-dim explanation embedding, App. A.1), ``embeddings`` (the
Ablation 2 encoders), ``model`` (the DNN of §3.5 and the NCF of Robustness 1),
``train`` (fitting, early stopping, metrics over seeds), ``analysis`` (attention,
keywords) and ``report`` (the Table 6 layout).
"""
