"""Integrations with training frameworks (optional extras): ``pipeline.integrations.lightning``."""
