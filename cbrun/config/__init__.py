"""A config file turned into a validated `RunSpec`, every problem found in one pass.

YAML 1.2 with positions (`yaml_loader`), `extends:` (`composition`), `--set` and shorthands
(`source`), the sections' models (`spec`), argument models generated from the Keras table
(`arguments`), the checks of every name and argument (`checks`), the rules between fields
(`rules`), the JSON Schema (`json_schema`) and the loading entry points (`loading`).

May import: `cbrun.catalog`, `cbrun.errors`. Never TensorFlow.
"""
