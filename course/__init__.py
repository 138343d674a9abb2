"""A from-scratch course in natural-language deep learning.

``course.use("cupy")`` moves new arrays to the GPU; ``course.seed(n)`` makes
a run reproducible on either backend.
"""

from course import backend
from course.backend import seed, use

__all__ = ["backend", "seed", "use"]
__version__ = "0.1.0"
