"""Settings for everything pytest collects, the tests and the tutorial notebooks alike."""

import os

# The notebooks under docs/tutorial run on small slices in the tests; a reader who runs one
# without the variable gets the full run, whose outputs the notebooks are saved with.
os.environ.setdefault("ATTNCLF_TUTORIAL_SLICE", "small")
