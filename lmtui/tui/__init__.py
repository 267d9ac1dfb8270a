"""The terminal UI (`lmtui`): projects, runs, live logs and charts, over run directories.

The modules without ``screens``/``widgets``/``app`` in their name are plain Python (no
Textual), shared with the headless `lmtui runs` family of commands. Nothing here imports
torch or transformers: the UI reads run directories and starts runs through
:mod:`lmtui.runs.launcher`.
"""
