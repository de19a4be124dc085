"""One module per score method; each exposes a pure array function and ``METHOD``."""
