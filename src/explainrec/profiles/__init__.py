"""PGHIS: LLM-written user and item profiles, layer 0 then layers 1..n (paper 000 §3.1)."""
