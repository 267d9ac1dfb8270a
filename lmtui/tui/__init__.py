"""The terminal UI (`lmtui`): projects, runs, live logs and charts, over run directories.

``app.py`` is the app, ``screens/`` its screens and dialogs, ``widgets/`` its widgets,
``palette.py`` the command palette's provider and ``lmtui.tcss`` the one style sheet. The UI
renders and sends commands: what it shows comes from the plain core (:mod:`lmtui.runs`,
:mod:`lmtui.project`), and it starts, stops and resumes runs through
:mod:`lmtui.runs.launcher`. Nothing here imports torch or transformers.
"""
