"""A deterministic simulator of the regional credit chain: the real core on virtual time.

`simulator.simulation.Simulation(scenario, seed).run()` is the API; `simulator.cli.main` the
command (`yrdchain simulate`). See docs/simulator.md.
"""
