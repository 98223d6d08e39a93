"""Lambda code of the training component: Prepare, Report and the GPU quota preflight.

Handlers run in Lambda as `workshop_runtime.<module>.handler` and are imported by tests and CDK code
as `stacks.training.runtime.workshop_runtime.<module>`, hence the relative imports inside.
"""
