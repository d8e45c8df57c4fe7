"""A frozen-regime two-tower model whose encoder is then fine-tuned (:mod:`~recft_utils.models.fine_tuning`'s
regimes) as a recommender: trained on a task, its epochs chosen by early stopping, scoring the catalogue."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from recft_utils.errors import ParameterError
from recft_utils.keras_backend import keras
from recft_utils.models.distribute import fit_across_workers, get_strategy
from recft_utils.models.early_stopping import EarlyStoppingOnNDCG
from recft_utils.models.fine_tuning import (
    REGIME_LABELS,
    CatalogueTextEncoder,
    EncoderFineTuner,
    FineTuneConfig,
    shared_lower_outputs,
    tokenize_titles,
)
from recft_utils.models.optimization import compile_with_optimizer
from recft_utils.models.recommender import Recommender
from recft_utils.models.streaming import as_constants
from recft_utils.models.training_data import daily_popularity, first_sale_days, multi_hot, order_examples
from recft_utils.models.two_tower import build_model
from recft_utils.models.two_tower_recommender import TwoTowerRecommender


class _RefreshCatalogue(keras.callbacks.Callback):
    """After each epoch: re-encode the catalogue (before early stopping evaluates)."""

    def on_epoch_end(self, epoch, logs=None):
        self.model.refresh_catalogue()


class StepTimer(keras.callbacks.Callback):
    """Wall time of every training step (re-encoding and evaluation excluded).

    The first step traces and compiles the step function, so
    :meth:`examples_per_second` uses the median of the others.
    """

    def __init__(self):
        super().__init__()
        self.steps: list[float] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(time.perf_counter() - self.started)

    def examples_per_second(self, batch_size: int) -> float:
        steady = self.steps[1:] or self.steps
        return batch_size / float(np.median(steady))


class FineTunedRecommender(Recommender):
    """A frozen-regime two-tower model whose encoder is then fine-tuned in one regime.

    ``titles``: normalised product titles indexed by item id (see
    :func:`~recft_utils.datasets.preparation.catalogue_titles`); ``load_encoder``:
    a function returning a fresh :class:`~recft_utils.text.SentenceEncoder`
    (each fit changes the encoder's weights, so each needs its own copy).
    ``frozen`` must already be fitted (or restored) on the task this model is fitted on.
    """

    scores_cold_items = True
    family = "text-fine-tuned"

    def __init__(
        self,
        frozen: TwoTowerRecommender,
        titles: pd.Series,
        load_encoder,
        config: FineTuneConfig,
        valid_task=None,
        name: str | None = None,
        verbose: int = 0,
    ):
        self.frozen, self.titles, self.load_encoder = frozen, titles, load_encoder
        self.config = config.checked()
        self.valid_task, self.verbose = valid_task, verbose
        self.name = name or f"two-tower, {REGIME_LABELS[config.regime]}"
        self.seed, self.stats = frozen.seed, {}

    def build(self, task, frozen_model):
        """The fine-tuner for ``task``, starting from ``frozen_model``'s weights, and its data (under the
        frozen model's strategy: the encoder's weights are then mirrored on every replica too)."""
        with get_strategy(self.frozen.strategy).scope():
            return self._build(task, frozen_model)

    def _build(self, task, frozen_model):
        keras.utils.set_random_seed(self.seed)
        config, base = self.config, self.frozen.config
        if config.mixed_precision:
            keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
        try:
            encoder = self.load_encoder()
        finally:
            keras.mixed_precision.set_dtype_policy("float32")
        config.checked(encoder.backbone.num_layers)
        self.encoder = encoder  # its backbone is the one being trained (see save_text_encoder)
        histories, targets, seen = order_examples(task, base.max_history)
        n_items = len(task.items)
        if config.jit_compile:  # dense (examples × catalogue) batches: for measuring XLA's speed, not at scale
            x, y = {**histories.as_inputs(), "seen": multi_hot(seen, n_items)}, multi_hot(targets, n_items)
        else:  # rows: see EncoderFineTuner.train_step
            x = {**histories.as_inputs(), "example": np.arange(len(histories), dtype=np.int32)}
            y = np.arange(len(histories), dtype=np.int32)
        q = targets.counts(n_items) + 1.0  # +1: items never bought new can still be drawn as negatives
        titles = self.titles.reindex(task.items).fillna("")
        ids, mask = tokenize_titles(encoder, titles, config.sequence_length)
        cached = None
        if config.regime == "top_k" and config.fast_catalogue:  # the lower layers, shared by every fit
            rows, outputs = shared_lower_outputs(encoder, [*self.titles.fillna(""), ""], config)
            cached = outputs[[rows[title] for title in titles]][:, : ids.shape[1]]
        ranker = build_model(
            np.asarray(frozen_model.text),
            daily_popularity(task, base.popularity_days),
            task.n_warm,
            base,
            first_sale_days(task),
        )
        ranker.set_weights(frozen_model.get_weights())
        item_encoder = CatalogueTextEncoder(encoder.backbone, ids, mask, config, cached=cached)
        model = EncoderFineTuner(
            ranker, item_encoder, np.log(q / q.sum()), config.negatives, deduplicate=not config.jit_compile
        )
        model.examples = (as_constants(targets), as_constants(seen))
        return model, x, y

    def _train(self, task, frozen_model, epochs: int, monitor=None):
        config = self.config
        started = time.perf_counter()
        model, x, y = self.build(task, frozen_model)
        per_epoch = min(int(np.ceil(len(y) / config.batch_size)), config.steps_per_epoch or len(y))
        with get_strategy(self.frozen.strategy).scope():  # the optimizer's state beside the weights it updates
            compile_with_optimizer(model, config.optimizer(epochs * per_epoch), config.jit_compile)
        timer = StepTimer()
        callbacks = [timer, _RefreshCatalogue()]
        if monitor is not None:
            callbacks.append(EarlyStoppingOnNDCG(self, monitor, config.patience))
        if self.frozen.strategy == "multi_worker":
            losses = fit_across_workers(
                model, x, y, config.batch_size, epochs, callbacks, steps_per_epoch=per_epoch, seed=self.seed
            )
        else:
            losses = model.fit(
                x,
                y,
                batch_size=config.batch_size,
                epochs=epochs,
                shuffle=True,
                steps_per_epoch=per_epoch,
                verbose=self.verbose,
                callbacks=callbacks,
            ).history["loss"]
        self.stats = {
            "train_examples": min(len(y), per_epoch * config.batch_size),
            "epochs_run": len(losses),
            "train_seconds": time.perf_counter() - started,
            "examples_per_second": timer.examples_per_second(config.batch_size),
            "trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
            "final_loss": float(losses[-1]),
        }
        return model, callbacks[-1] if monitor is not None else None

    def throughput(self, task, frozen_model, steps: int = 8) -> float:
        """Examples per second of this regime's training step, from ``steps`` steps on ``task``."""
        model, x, y = self.build(task, frozen_model)
        compile_with_optimizer(model, self.config.optimizer(steps), self.config.jit_compile)
        timer = StepTimer()
        n = min(len(y), (steps + 1) * self.config.batch_size)
        model.fit(
            {k: v[:n] for k, v in x.items()},
            y[:n],
            batch_size=self.config.batch_size,
            epochs=1,
            verbose=0,
            callbacks=[timer],
        )
        self.stats = {"trainable_parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights))}
        return timer.examples_per_second(self.config.batch_size)

    def select_epochs(self, frozen_valid_model) -> int:
        """Early stopping on the validation window, starting from a frozen model trained on its history.

        Keeps the curve (``validation_curve``) and the best epoch's per-customer
        discovery NDCG@10 (``validation_scores``, for the serving rule's paired intervals).
        """
        model, stopper = self._train(self.valid_task, frozen_valid_model, self.config.epochs, monitor=self.valid_task)
        self.validation_curve, self.validation_scores = stopper.curve, stopper.whole_window_scores()
        return stopper.best_epoch

    def fit(self, task, epochs: int | None = None):
        super().fit(task)
        if self.frozen.task is not task:
            raise ParameterError("Fit the frozen model on the same task first (FineTunedRecommender starts from it).")
        self.epochs = epochs or self.config.epochs
        tuner, _ = self._train(task, self.frozen.model, self.epochs)
        self.model = tuner.ranker
        return self

    def save_text_encoder(self, folder) -> None:
        """Write the fine-tuned encoder and its tokenizer as a KerasHub preset folder, atomically.

        ``keras_hub.models.BertBackbone.from_preset(folder)`` and
        ``BertTokenizer.from_preset(folder)`` load them back (for ``lora``,
        the low-rank updates are saved merged into the stored weights' layers).
        """
        self.encoder.save_preset(folder)

    def model_scores(self, model, task, rows):
        return self.frozen.model_scores(model, task, rows)

    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self.model_scores(self.model, self.task, user_rows)
