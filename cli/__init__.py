"""The `modbridge` command line: the top of the stack, the one place that knows every command."""
