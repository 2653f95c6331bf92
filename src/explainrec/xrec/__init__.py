"""XRec (paper 001): LightGCN tokenizer -> mixture-of-experts adapters -> embeddings injected
into a frozen LLM.

Modules: ``graph`` (LightGCN with BPR, Recall/NDCG@20 against a popularity ranking),
``tokenizer`` (the zero-shot users and the graph embeddings of every node), ``moe`` (the
users' and items' MoE adapters), ``inject`` (hooks that put the adapted vectors into a frozen
causal LM: the input embeddings at the reserved tokens and, Eq. 12, every layer's q, k and
v there), ``frozen`` (the llm with XRec's tokens), ``data`` (the Fig. 2 prompts, the
training targets, the sparsity buckets), ``train`` (the adapters' NLL training),
``generate`` (explanations for the test pairs), ``experiment`` (the adapter and generation
stages' work) and ``report`` (per-variant and per-bucket tables).
"""
