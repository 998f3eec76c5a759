"""Helpers for the demo, the tests and the benchmarks: real SoftHSM tokens, scripted prompters.

Nothing in the running agent imports this package.
"""
