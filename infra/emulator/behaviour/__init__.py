"""Fixes that change what the emulator answers, to answer as AWS does.

Each is a place where stock moto would let a local run pass (or fail) where
AWS would not; the tests in ../tests/test_behaviour.py fail against stock moto.
"""
