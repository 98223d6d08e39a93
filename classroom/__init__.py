"""Run the workshop stack across a class's accounts: `python -m classroom deploy|status|destroy`.

Each configured account (the `accounts` setting, or the CLI's current account when it is empty) is
worked on with its own credentials (its `profile`, or the current ones), several at once.
"""
