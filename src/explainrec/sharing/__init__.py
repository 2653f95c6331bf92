"""Sharing what a run paid for: the LLM response cache through a DVC remote (:mod:`.llm_cache`)."""
