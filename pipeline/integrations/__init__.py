"""Integrations with training frameworks (optional extras): ``pipeline.integrations.lightning`` and
``pipeline.integrations.transformers`` (the Hugging Face Trainer)."""
