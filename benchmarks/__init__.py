"""Benchmarks: our synth against a bare cdk8s-plus program that builds the same objects.

Run them with ``make bench`` (``benchmarks/run.py``); see README, "Benchmarks".
"""
