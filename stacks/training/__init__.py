"""Training: SageMaker execution role, the Prepare/Report Lambdas, the state machine, the quota
preflight and the dashboard. The Lambda code lives beside it in `runtime/`.

Import the constructs from their modules (`stacks.training.state_machine`, ...): this package is
also the parent of the Lambda runtime that `stacks.config` imports, so it stays import-free.
"""
