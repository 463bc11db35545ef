"""The ground floor: the common model, action kinds, case values and the ports.

Everything else in modbridge builds on these names; this package imports nothing of ours.
"""
