"""The constructs and stacks of this CDK app; app.py composes them (README.md has the map)."""
