"""What students and self-learners run: the graded checks, ``course check``, the workspace."""
