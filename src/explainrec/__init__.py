"""explainrec: LLM-based explainable recommendation as a DVC pipeline."""

__version__ = "0.1.0"
