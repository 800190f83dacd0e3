"""Callables for `gilwatch stress` teardown scenarios on the churn fixture
(scenarios/suites/seeds.toml): factories for each variant and the `use` step."""

import importlib


def make_buggy():
    return importlib.import_module("churn_buggy").Tool()


def make_fixed():
    return importlib.import_module("churn_fixed").Tool()


def exercise(tool):
    tool.use()
    tool.use()
