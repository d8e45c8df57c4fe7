"""Experiment plans: what each step trains and compares, in one code path that the notebooks and
``python -m recft_utils.benchmark`` share (a notebook runs a smaller budget of the same plan).

- :mod:`~recft_utils.experiments.baseline_plan`: step 1's baselines on a split;
- :mod:`~recft_utils.experiments.training_plan`: step 3's models, seeds and regimes, and their records;
- :mod:`~recft_utils.experiments.tuning`: the budgeted hyper-parameter search and the ablation;
- :mod:`~recft_utils.experiments.serving_choice`: which candidate step 4 serves, by a paired margin.
- :mod:`~recft_utils.experiments.worker_quality`: what each worker of a multi-worker run trains and measures.

The models themselves live in :mod:`recft_utils.models`; this package only runs them.
"""
