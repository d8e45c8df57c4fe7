"""The one place recft imports TensorFlow, Keras and KerasHub, after choosing Keras's backend.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so the choice must come before any
``import keras``; doing it here (and a test checking that no other module imports them) keeps
that rule in one file. Importing this module is cheap: each library is imported the first time
it is asked for, so ``from recft_utils.keras_backend import tf`` loads TensorFlow without Keras
(what the HTTP service needs) and a module that only may need KerasHub imports it in a function::

    from recft_utils.keras_backend import keras, tf

Both environment variables are defaults: a user's own setting wins.
"""

from __future__ import annotations

import importlib
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter would alarm a learner

_MODULES = {"tf": "tensorflow", "keras": "keras", "keras_hub": "keras_hub"}


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(_MODULES[name])
    if "tensorflow" in sys.modules:  # Keras and KerasHub import it too
        # recft builds a new model per fit, so Keras traces new functions on purpose: TF's
        # "retracing" warnings about that say nothing a learner can act on
        sys.modules["tensorflow"].get_logger().setLevel("ERROR")
    return module
