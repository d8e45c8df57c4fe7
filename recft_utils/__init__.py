"""recft_utils: the code behind the recft notebooks.

Organised by concern, like Microsoft Recommenders:

- ``datasets``   loading, verifying and cleaning interaction data
- ``evaluation`` the temporal split, ranking metrics and the protocol's views
- ``models``     recommenders (classical baselines first)
- ``text``       the pretrained language model and text augmentation
- ``plots``      the figures the notebooks show and save
- ``source_listing`` the package's own code, shown in a notebook
- ``config``     profiles and notebook parameters
- ``artefacts``  atomic writes and the per-step artefact folders of a run
- ``runner``     executing the notebook chain with papermill
- ``cli``        the ``recft`` command
"""

__version__ = "0.1.0"
