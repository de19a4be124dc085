"""The public Python API: what `from pipeline import ...` gives (see pipeline/__init__.py)."""
