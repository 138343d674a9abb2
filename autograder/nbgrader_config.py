"""nbgrader configuration of the course (run nbgrader commands from this folder).

The course root is the repository; ``notebooks/`` is the source directory
(one folder per chapter assignment, ch01 ... ch09). Everything nbgrader
generates lives under ``autograder/`` and is git-ignored.
"""

from autograder.settings import configure

configure(get_config())  # noqa: F821 - get_config is provided by nbgrader when it loads this file
