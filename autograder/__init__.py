"""Grading for the course: nbgrader settings, graded checks, the local self-check."""
