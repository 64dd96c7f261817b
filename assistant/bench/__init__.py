"""Benchmarks (``assistant bench ...``) and the simulated real-time client they drive."""
