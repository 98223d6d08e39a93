"""The workshop stack as a plain CloudFormation template (Workshop Studio, StackSets, console)."""
