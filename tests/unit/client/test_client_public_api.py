"""The public surface is deliberate: ``__all__`` lists it, nothing else leaks."""

from __future__ import annotations

import inspect

import runyard_client
from runyard_client import _errors


def test_all_is_sorted_unique_and_importable() -> None:
    names = runyard_client.__all__
    assert names == sorted(names) and len(set(names)) == len(names)
    for name in names:
        assert getattr(runyard_client, name) is not None


def test_every_public_attribute_is_in_all() -> None:
    public = {
        n
        for n, v in vars(runyard_client).items()
        if not n.startswith("_") and not inspect.ismodule(v)
    }
    assert public == set(runyard_client.__all__)


def test_private_modules_stay_private() -> None:
    modules = {n for n, v in vars(runyard_client).items() if inspect.ismodule(v)}
    assert all(n.startswith("_") or n == "cli" for n in modules)


def test_exceptions_form_the_documented_tree() -> None:
    doc = _errors.__doc__ or ""
    for name in runyard_client.__all__:
        value = getattr(runyard_client, name)
        if inspect.isclass(value) and issubclass(value, BaseException):
            assert issubclass(value, runyard_client.RunyardError), name
            assert name in doc, f"{name} is missing from the exception tree"
    assert issubclass(runyard_client.IdempotencyKeyReused, runyard_client.ConflictError)
    assert issubclass(runyard_client.OutputsExpired, runyard_client.GoneError)
    assert issubclass(runyard_client.WaitTimeout, TimeoutError)


def test_clients_have_the_same_methods() -> None:
    def methods(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")}

    sync, async_ = methods(runyard_client.Client), methods(runyard_client.AsyncClient)
    assert sync - {"close"} == async_ - {"aclose"}
    assert methods(runyard_client.Task) == methods(runyard_client.AsyncTask)
