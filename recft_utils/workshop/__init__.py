"""Workshop tooling (no notebook imports it): checkpoints, the offline bundle, the JupyterLab harness,
measured notebook times and the facilitator's agenda."""
