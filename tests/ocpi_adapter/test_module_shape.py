"""Every functional OCPI module is one package of the same shape (STYLE 1), and the hub mounts
every functional module of OCPI 2.2.1, so a new or renamed module cannot drift unnoticed."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import ocpi_adapter
from ocpi_adapter.modules import FUNCTIONAL
from ocpi_adapter.routing.operations import ModuleRoutes

PACKAGE = Path(ocpi_adapter.__file__).parent
SHAPE = {"__init__.py", "models.py", "routes.py", "store.py"}
# What the hub itself sends in a module, where it sends anything of its own (the graph's
# commands): beside the routes, named the same in every module that has one.
OPTIONAL = {"outbound.py"}
# mod_*.asciidoc of the spec, less the configuration module hubclientinfo.
SPEC_FUNCTIONAL = {
    "locations",
    "sessions",
    "cdrs",
    "tariffs",
    "tokens",
    "commands",
    "chargingprofiles",
}


def test_the_hub_mounts_every_functional_module_of_the_spec() -> None:
    assert {routes.module.value for routes in FUNCTIONAL} == SPEC_FUNCTIONAL


@pytest.mark.parametrize("module", sorted(SPEC_FUNCTIONAL))
def test_a_module_package_has_the_common_shape(module: str) -> None:
    files = {p.name for p in (PACKAGE / module).iterdir() if p.suffix == ".py"} - OPTIONAL
    assert files == SHAPE, f"{module}: {sorted(files ^ SHAPE)}"
    routes = importlib.import_module(f"ocpi_adapter.{module}.routes").ROUTES
    assert isinstance(routes, ModuleRoutes)
    assert routes.module.value == module
    # A module's stores and GET All lists come from its own store module, nowhere else.
    store = importlib.import_module(f"ocpi_adapter.{module}.store")
    for operation in routes.operations:
        for function in (operation.store, operation.get_all):
            if function is not None:
                assert function.__module__ == store.__name__, (module, function)
