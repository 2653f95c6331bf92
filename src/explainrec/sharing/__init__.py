"""Sharing what a run paid for: the LLM response cache (:mod:`.llm_cache`) and the run-cache with its objects
(:mod:`.run_cache`), through a DVC remote."""
