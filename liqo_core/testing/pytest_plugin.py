"""pytest plugin of liqo-core (entry point ``pytest11: liqo``).

It only names the modules that define the fixtures, so each stays small:
cluster fixtures (emulated clusters, or real ones from ``LIQO_TEST_KUBECONFIGS``) and
sandbox fixtures (clusters with scheduler, workload controllers and kubelets).
"""

pytest_plugins: list[str] = [
    "liqo_core.testing.clusters",
    "liqo_core.testing.sandbox_fixtures",
]
