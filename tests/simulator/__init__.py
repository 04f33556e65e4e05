"""Tests of the network simulator."""
