"""Tests of chain/consensus: codec, certificates, state machine, golden transcripts, properties."""
