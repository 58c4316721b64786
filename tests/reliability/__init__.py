"""Reliability and security suite (R1–R7): tests only; figures in docs/reliability.md."""
