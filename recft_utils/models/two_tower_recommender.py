"""The two-tower model (:mod:`~recft_utils.models.two_tower`) as a recommender: trained on a task's
history, its epochs chosen by early stopping on the validation window, scoring the whole catalogue.

Training: one example per order that bought something new (see
:mod:`recft_utils.models.training_data`); each batch expands its own targets and masks
(:mod:`recft_utils.models.streaming`), so memory grows with purchases, not with examples ×
catalogue; above 20,000 products the softmax is sampled, logQ-corrected. Under the
``multi_worker`` strategy the same step runs on every worker (:mod:`recft_utils.multi_worker`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.keras_backend import keras, tf
from recft_utils.models.early_stopping import EarlyStoppingOnNDCG
from recft_utils.models.optimization import build_optimizer
from recft_utils.models.recommender import Recommender
from recft_utils.models.streaming import as_constants, popularity_sampler
from recft_utils.models.training_data import daily_popularity, first_sale_days, order_examples, window_histories
from recft_utils.models.two_tower import (
    TextTwoTower,
    TwoTowerConfig,
    build_model,
    softmax_over_catalogue,
    transfer_weights,
)


class TwoTowerRecommender(Recommender):
    """Fit on a task's history, score its evaluated customers over the full catalogue.

    ``item_vectors``: a DataFrame of text embeddings indexed by item id (all
    items of the dataset; each task takes its catalogue from it).
    ``valid_task``: when given, the number of epochs is chosen by early
    stopping on its window (training on its own, earlier history) and the
    model is then refitted on the task's full history for that many epochs.
    """

    scores_cold_items = True
    family = "text-frozen"

    def __init__(
        self,
        item_vectors: pd.DataFrame,
        config: TwoTowerConfig | None = None,
        seed: int = 0,
        strategy: str = "default",
        valid_task=None,
        name: str = "two-tower (frozen encoder)",
        verbose: int = 0,
        augmented_vectors: pd.DataFrame | None = None,
        log_dir=None,
        family: str | None = None,
    ):
        from recft_utils.models.distribute import check_strategy

        check_strategy(strategy)
        self.item_vectors, self.augmented_vectors = item_vectors, augmented_vectors
        self.config = (config or TwoTowerConfig()).checked()
        if not self.config.text:  # an ID-only model: no text, so no new items and no language model
            self.scores_cold_items, self.family = False, "classical"
        if family is not None:  # e.g. "text-fine-tuned" for vectors of an adapted encoder
            self.family = family
        self.seed, self.strategy, self.valid_task, self.name, self.verbose = seed, strategy, valid_task, name, verbose
        self.log_dir = log_dir  # when set, training curves go to TensorBoard there
        self.stats: dict = {}

    # -- training -----------------------------------------------------------
    def _train(self, task, epochs: int, monitor=None, source=None):
        from recft_utils.models.distribute import fit_across_workers, get_strategy

        keras.utils.set_random_seed(self.seed)
        config = self.config
        histories, targets, seen = order_examples(task, config.max_history)
        if len(histories) == 0:
            raise ParameterError("No training examples: no customer bought something new after a first order.")
        n_items = len(task.items)
        # no (examples × catalogue) matrix: y is each example's row, and each batch expands its own lists
        x = {**histories.as_inputs(), "example": np.arange(len(histories), dtype=np.int32)}
        y = np.arange(len(histories), dtype=np.int32)
        if config.max_examples and len(y) > config.max_examples:  # a row of y expands its example in the step
            keep = np.sort(np.random.default_rng(self.seed).choice(len(y), config.max_examples, replace=False))
            x, y = {name: values[keep] for name, values in x.items()}, y[keep]
        negatives = config.negatives_for(n_items)
        steps = epochs * int(np.ceil(len(y) / config.batch_size))
        with get_strategy(self.strategy).scope():
            model = self._build(task)
            if source is not None:
                self._load(model, task, source)
            model.compile(optimizer=config.optimizer(steps), loss=softmax_over_catalogue)
            build_optimizer(model)  # its state now, not in the step's first trace (which would then run twice)
            if self.strategy != "default":
                # under a strategy Keras builds the compiled loss from the first batch, which holds rows, not
                # targets: build it here on the shapes a step uses
                probe = np.zeros((1, n_items), np.float32)
                model.compute_loss(y=probe, y_pred=probe, training=False)
            model.adversarial_epsilon = config.adversarial_epsilon
            model.examples = (as_constants(targets), as_constants(seen))
            if negatives:
                cdf, log_q = popularity_sampler(targets.counts(n_items))
                model.sampler = (tf.constant(cdf), tf.constant(log_q), negatives)
            if self.augmented_vectors is not None:
                model.title_variants = tf.constant(
                    title_variants(self.item_vectors, self.augmented_vectors, task.items)
                )
        callbacks = [EarlyStoppingOnNDCG(self, monitor, config.patience)] if monitor is not None else []
        if self.log_dir is not None:
            callbacks.append(keras.callbacks.TensorBoard(str(self.log_dir), write_graph=False))
        started = time.perf_counter()
        if self.strategy == "multi_worker":
            losses = fit_across_workers(model, x, y, config.batch_size, epochs, callbacks, seed=self.seed)
        else:
            losses = model.fit(
                x,
                y,
                batch_size=config.batch_size,
                epochs=epochs,
                shuffle=True,
                verbose=self.verbose,
                callbacks=callbacks,
            ).history["loss"]
        seconds = time.perf_counter() - started
        self.stats = {
            "train_examples": len(y),
            "all_examples": len(histories),
            "epochs_run": len(losses),
            "train_seconds": seconds,
            "examples_per_second": len(y) * len(losses) / seconds,
            "final_loss": float(losses[-1]),
            "softmax": f"sampled ({negatives:,} negatives)" if negatives else "full",
        }
        if monitor is not None:
            self.stats["judged_customers"], self.stats["valid_customers"] = callbacks[0].customers
        return model, callbacks[0] if monitor is not None else None

    def _build(self, task) -> "TextTwoTower":
        vectors = self.item_vectors.reindex(task.items).to_numpy(dtype=np.float32)
        return build_model(
            vectors,
            daily_popularity(task, self.config.popularity_days),
            task.n_warm,
            self.config,
            first_sale_days(task),
        )

    def start_from(self, task, source, epochs: int = 0) -> "TwoTowerRecommender":
        """This recommender on ``task``, starting from what ``source`` learned: the one way to restore,
        carry over or warm-start a two-tower model.

        ``source`` is either the weights of a model fitted on ``task`` itself (``model.get_weights()``,
        e.g. of a saved model, loaded in another process: restored exactly), or a fitted
        :class:`TwoTowerRecommender` of this task or an earlier one (carried over to this task's
        catalogue and popularity table: see :func:`transfer_weights`). With ``epochs`` > 0 the model
        then trains that many epochs from there (a warm start); with 0 it scores as it is, what a
        deployed model does when nobody retrains it.
        """
        super().fit(task)
        self.epochs = epochs
        if epochs:
            self.model, _ = self._train(task, epochs, source=source)
        else:
            self.model, self.stats = self._build(task), {"train_seconds": 0.0}
            self._load(self.model, task, source)
        return self

    def like(self) -> "TwoTowerRecommender":
        """An unfitted recommender with this one's vectors, settings, seed and name (for :meth:`start_from`)."""
        return TwoTowerRecommender(
            self.item_vectors, self.config, seed=self.seed, name=self.name, strategy=self.strategy, family=self.family
        )

    @staticmethod
    def _load(model: "TextTwoTower", task, source) -> None:
        if isinstance(source, TwoTowerRecommender):
            transfer_weights(model, source.model, task.items, source.task.items)
        else:
            model.set_weights(source)

    def select_epochs(self) -> int:
        """Early stopping on the validation window: the best epoch count."""
        model, stopper = self._train(self.valid_task, self.config.epochs, monitor=self.valid_task)
        self.validation_curve, self.valid_model = stopper.curve, model
        return stopper.best_epoch

    def fit(self, task, epochs: int | None = None):
        """Train on ``task``'s history from a random initialisation (``epochs``: by early stopping on
        ``valid_task`` when given, else the config's); to start from a trained model, :meth:`start_from`."""
        super().fit(task)
        if epochs is None:
            epochs = self.select_epochs() if self.valid_task is not None else self.config.epochs
        self.epochs = epochs
        self.model, _ = self._train(task, epochs)
        return self

    # -- scoring ------------------------------------------------------------
    def model_scores(self, model, task, rows: np.ndarray) -> np.ndarray:
        """Scores of ``model`` (this recommender's Keras model or one being trained) for ``task``'s ``rows``."""
        histories = window_histories(task, rows, self.config.max_history)
        inputs = {**histories.as_inputs(), "seen": np.zeros((len(rows), len(task.items)), np.float32)}
        if self.strategy == "multi_worker":  # predict_on_batch would gather every worker's copy of the rows
            return np.asarray(model(inputs, training=False))
        return np.asarray(model.predict_on_batch(inputs))

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self.model_scores(self.model, self.task, user_rows)


def title_variants(item_vectors: pd.DataFrame, augmented: pd.DataFrame, items: np.ndarray) -> np.ndarray:
    """(variants, items, dim): variant 0 is each item's title, the others its augmented titles.

    ``augmented`` holds one row per augmented title, indexed by item id; items
    with fewer augmentations than others repeat their own title in the free slots.
    """
    original = item_vectors.reindex(items).to_numpy(dtype=np.float32)
    augmented = augmented[augmented.index.isin(items)]
    rank = augmented.groupby(level=0).cumcount().to_numpy() + 1
    table = np.repeat(original[None], int(rank.max(initial=0)) + 1, axis=0)
    columns = pd.Series(np.arange(len(items)), index=items).reindex(augmented.index).to_numpy()
    table[rank, columns] = augmented.to_numpy(dtype=np.float32)
    return table
