"""Callables for `gilwatch stress` speedup scenarios on the parallel fixture
(scenarios/suites/seeds.toml)."""

import importlib

ITEMS = 200


def work_buggy():
    importlib.import_module("parallel_buggy").work(ITEMS)


def work_fixed():
    importlib.import_module("parallel_fixed").work(ITEMS)
