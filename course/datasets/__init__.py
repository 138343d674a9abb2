"""Data sets: generated (spiral) and real ones loaded by verified downloads."""
