"""Training: SageMaker execution role, the Prepare/Report/Preflight Lambdas, the state machine,
the quota preflight, the dashboard and `make results`. The Lambda code lives beside it in
`runtime/` (standard library and boto3 only).

Import the constructs from their modules (`stacks.training.state_machine`, ...): this package is
also the parent of the Lambda runtime that `stacks.config` imports, so it stays import-free.
"""
