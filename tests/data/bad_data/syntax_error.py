"""A module docstring that is long enough to be a document of the corpus."""

def broken(:
    pass
