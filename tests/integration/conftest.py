"""pytest configuration for the integration tests.

Reads the build and source directories from GILWATCH_BUILD_DIR and GILWATCH_SOURCE_DIR
(set by CTest, see CMakeLists.txt); without them, <repo>/build and the repository that
holds this file. Run by hand:

    GILWATCH_BUILD_DIR=$PWD/build /usr/bin/python3 -m pytest -v tests/integration
"""

import pytest

import gilwatch_testlib as lib


def pytest_report_header(config):
    return ["gilwatch build dir: %s" % lib.build_dir(),
            "gilwatch source dir: %s" % lib.source_dir(),
            "interpreters: %s" % (", ".join(lib.python_ids(lib.load_pythons())) or "none")]


@pytest.fixture(scope="session")
def build_dir():
    path = lib.build_dir()
    if not path.is_dir():
        pytest.fail("build directory %s does not exist" % path)
    return path


@pytest.fixture(scope="session")
def source_dir():
    return lib.source_dir()


@pytest.fixture
def out_dir(tmp_path):
    """A fresh gilwatch output directory for one test."""
    path = tmp_path / "gilwatch-out"
    path.mkdir()
    return path
