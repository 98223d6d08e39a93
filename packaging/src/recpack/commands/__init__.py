"""One module per `recpack` command (cli/registry.py lists them): DESCRIPTION, add_arguments(parser)
and run(args) -> exit code. Heavy imports happen inside run()."""
