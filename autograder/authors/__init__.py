"""What the course's authors run: solution cells kept equal to the model answers in ``course/``."""
