"""End-to-end tests: the CLI as a subprocess, training tiny models on the real corpora."""
