"""recft_utils: the code behind the recft notebooks.

Organised by concern, like Microsoft Recommenders. The library, which the notebooks use:

- ``datasets``       loading, verifying, cleaning and preparing interaction data (steps 1-2)
- ``evaluation``     the temporal split, ranking metrics, segments, rolling origins, comparison tables
- ``text``           the pretrained language model (KerasHub), its files, and title augmentation
- ``models``         recommenders: classical baselines, the two-tower model, fine-tuning
- ``experiments``    what each step trains and compares (``training_plan``, ``tuning``, ``serving_choice``)
- ``serving``        export, the model folder's format, the HTTP service, load tests and replay (step 4)
- ``reporting``      the model card, the datasheet and segment reports (step 5)
- ``lifecycle``      the model registry, retraining, promotion, the simulated year (step 6)
- ``monitoring``     drift between what a model learned from and what it sees
- ``run``            the run folder: step names, file names, manifests, readers; ``run_figures`` each
                     step's key figures, declared once
- ``config``         profiles (every per-profile setting), project-wide rules, where files live;
                     ``settings`` a notebook's parameters, validated
- ``keras_backend``  the one module that imports TensorFlow, Keras and KerasHub
- ``artefacts``      atomic writes: a file appears whole or not at all
- ``plots``          the figures the notebooks show and save
- ``tracking``       experiment tracking with MLflow
- ``notebook_execution``  papermill in the recft kernel (the chain and the segment reports use it)
- ``machine``        memory available and used; ``multi_worker`` starts training workers
- ``source_listing`` the package's own code, shown in a notebook
- ``errors``         errors that name the problem and the fix

The tooling around it (nothing above imports these: ``tests/test_imports.py`` checks it):

- ``runner``, ``cli``, ``__main__``  executing the notebook chain with papermill; the ``recft`` command
- ``doctor``         ``recft doctor``: is this machine ready?
- ``benchmark``      ``python -m recft_utils.benchmark``: figures for README and docs/benchmarks
- ``workshop``       checkpoints, the offline bundle, the JupyterLab harness, notebook timings, the agenda,
                     the answer key, the slide deck
"""

import warnings

__version__ = "0.1.0"

# KerasHub's and MLflow's dependencies import tqdm.auto, which warns in a notebook without ipywidgets that
# its bars would fall back to text. recft shows no bar of theirs, and its own bars are text bars.
warnings.filterwarnings("ignore", message="IProgress not found")
