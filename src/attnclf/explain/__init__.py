"""What a model read, and whether that explains its decision: the Explanation type and
explain() (`explanation`), the views that draw it (`terminal`, `html`, `png`, and the
token-by-token `matrix` under the last two), the page shell every page shares (`shell`), the
colour ramps (`colours`), the page scripts and rules (`assets/`), the test examples a gallery
shows (`gallery`), an ensemble beside its members (`ensemble`), token attributions by
attention and gradients (`attributions`) and how faithful they are (`faithfulness`: erasure
metrics).

The views sit above the type they draw, never below it. Importing this package imports the
HTML view, which tells the Explanation how a notebook shows it (`html.notebook_card`).
"""

from . import html as _html  # noqa: F401  (registers the notebook view)
