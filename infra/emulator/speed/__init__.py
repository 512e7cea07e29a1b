"""Fixes that only make the emulator faster: each answers exactly as stock moto.

Each replaces a moto path whose cost grew with the table, the queue or the
model rather than with the request; ../tests/test_speed.py makes the same
requests through moto's path and the fix's and compares the answers.
"""
