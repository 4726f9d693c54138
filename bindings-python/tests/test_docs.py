"""Every public class, function and method of the package has a docstring, and every
public call a one-line example in it (``kms.encrypt(...)``): pdoc builds the reference
from them in the python step, where `python -W error -m pdoc` must not warn."""
import inspect
import re

import strongroom


def _public():
    for name in strongroom.__all__:
        o = getattr(strongroom, name)
        if getattr(o, "__module__", "") not in ("strongroom", "strongroom.errors", "strongroom.secrets"):
            continue
        if inspect.isclass(o) or inspect.isfunction(o):
            yield name, o
            if inspect.isclass(o):
                for m, v in vars(o).items():
                    f = v.__func__ if isinstance(v, (staticmethod, classmethod)) else v
                    if not m.startswith("_") and inspect.isfunction(f):
                        yield f"{name}.{m}", f


def test_every_public_callable_is_documented():
    names = [n for n, _ in _public()]
    assert "Kms.encrypt" in names and "Kms.create_user" in names and "SecretCache" in names
    missing = [n for n, o in _public() if not (o.__doc__ or "").strip()]
    assert missing == [], f"no docstring: {missing}"


def test_every_public_call_has_an_example():
    calls = [(n, o) for n, o in _public() if inspect.isfunction(o)]
    assert len(calls) > 100
    example = re.compile(r"``[^`]*\w\([^`]*``")
    missing = [n for n, o in calls if not example.search(o.__doc__ or "")]
    assert missing == [], f"no one-line example: {missing}"


def test_access_methods_are_real_methods():
    # RAM / policy / audit methods are defined in the class (visible to type checkers
    # and pdoc), each going through the one dispatch.
    for m in ("create_user", "attach_policy_to_role", "assume_role", "set_key_policy", "describe_audit_config"):
        assert m in vars(strongroom.Kms), m
    kms = strongroom.Kms.memory()
    kms.create_user(user_name="docs")
    assert [u["UserName"] for u in kms.list_users()["Users"]["User"]] == ["docs"]
