"""Early stopping on the validation window: discovery NDCG@10 after every epoch, the best epoch's weights kept.

The two-tower (:mod:`~recft_utils.models.two_tower_recommender`), its plain-Keras twin and the
encoder's fine-tuning all stop on it.
"""

from __future__ import annotations

import pandas as pd

from recft_utils.keras_backend import keras

# validation customers × catalogue judged after each epoch: the built-in shop (about 4 M) and the tiny
# profile (200 customers) whole; at 70,000 products about 285 customers, whose ranking costs less than the
# epoch it judges (with 50 M it cost about as much as the training itself)
EARLY_STOPPING_CELLS = 20_000_000


class EarlyStoppingOnNDCG(keras.callbacks.Callback):
    """Discovery NDCG@10 on a validation task after every epoch.

    Keeps the best weights, the epoch they came from and that epoch's
    per-customer scores (``best_scores``, for paired comparisons); stops after
    ``patience`` epochs without improvement. On a catalogue so large that the whole window's customers
    exceed :data:`EARLY_STOPPING_CELLS` (customers × products), each epoch is judged on a seeded sample of
    them (``judged``, ``customers`` says how many of how many); the built-in shop is judged whole.
    """

    def __init__(self, recommender, task, patience: int):
        from recft_utils.evaluation.protocol import customer_sample

        super().__init__()
        self.recommender, self.task, self.patience = recommender, task, patience
        self.judged = customer_sample(task, EARLY_STOPPING_CELLS, seed=getattr(recommender, "seed", 0))
        self.customers = (len(self.judged.eval_rows), len(task.eval_rows))
        self.best, self.best_epoch, self.wait, self.curve = -1.0, 0, 0, []
        self.best_weights = self.best_scores = None

    def on_epoch_end(self, epoch, logs=None):
        scores = self.scores(self.judged)
        ndcg = float(scores.mean())
        self.curve.append({"epoch": epoch + 1, "loss": float(logs["loss"]), "valid_ndcg@10": ndcg})
        logs["valid_ndcg@10"] = ndcg  # later callbacks (TensorBoard) record it too
        if ndcg > self.best:
            self.best, self.best_epoch, self.wait = ndcg, epoch + 1, 0
            # the trainable weights only: the catalogue's text and popularity tables (hundreds of MB on a
            # large catalogue) do not change in training
            self.best_weights, self.best_scores = [w.numpy() for w in self.model.trainable_weights], scores
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            for weight, value in zip(self.model.trainable_weights, self.best_weights):
                weight.assign(value)

    def scores(self, task) -> pd.Series:
        """Per-customer discovery NDCG@10 of the model as it is now on ``task``."""
        from recft_utils.evaluation import evaluate

        scorer = _FixedScorer(lambda rows: self.recommender.model_scores(self.model, task, rows))
        return evaluate(scorer, task, views=("discovery",))["discovery"].set_index("user_id")["ndcg"]

    def whole_window_scores(self) -> pd.Series:
        """The best epoch's per-customer scores on every validation customer (after training, when the
        best weights are back): ``best_scores`` itself unless epochs were judged on a sample."""
        return self.best_scores if self.judged is self.task else self.scores(self.task)


class _FixedScorer:
    scores_cold_items = True

    def __init__(self, function):
        self.score = function
