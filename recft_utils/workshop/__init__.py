"""Workshop tooling (no notebook imports it): checkpoints, the offline bundle, the JupyterLab harness,
measured notebook times and reading times, the facilitator's agenda and answer key, and the slide deck."""
