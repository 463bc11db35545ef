"""Development tools: the Discord API simulator, the local Synapse launcher and the demo.

Never imported by `modbridge run`, `check-config` or `rules`: only `modbridge demo` and the
tests load them.
"""
