"""lmtui: train masked language models from one project file, headless or from a terminal UI."""

__version__ = "0.1.0"
