"""Show the package's own source code in a notebook, so the code a learner reads is the code that runs.

Notebook 03 displays the towers, the losses and the training steps this way
instead of keeping a second copy that could drift from the package.
"""

from __future__ import annotations

import inspect
import textwrap


def source_code(*objects) -> str:
    """The source of each function, class or method in ``objects``, dedented, separated by a blank line."""
    return "\n\n".join(textwrap.dedent(inspect.getsource(obj)).rstrip() for obj in objects)


def source_listing(*objects):
    """``objects``' source as a Markdown Python code block (IPython's ``Markdown``), headed by where it lives."""
    from IPython.display import Markdown

    places = ", ".join(f"`{obj.__module__}.{obj.__qualname__}`" for obj in objects)
    return Markdown(f"From {places}:\n\n```python\n{source_code(*objects)}\n```")
