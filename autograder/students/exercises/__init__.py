"""Graded checks per chapter, called by the (hidden) test cells of the notebooks."""
