"""The .pyi stubs match the modules, and every public name has a docstring (no root needed)."""

import ast
import inspect
import pathlib

import pytest

import rcontainer
from rcontainer import _errors, _native

PKG = pathlib.Path(rcontainer.__file__).parent


def stub(name):
    return ast.parse((PKG / name).read_text())


def top_names(tree):
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("_"):
            for a in node.names:
                if a.asname == a.name:  # explicit re-export
                    names[a.name] = node
    return {k: v for k, v in names.items() if not k.startswith("_") or k == "__version__"}


def stub_params(fn):
    """Parameter names in order; "*" marks where keyword-only ones begin (as in a def)."""
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args]
    if a.vararg:
        names.append("*" + a.vararg.arg)
    elif a.kwonlyargs:
        names.append("*")
    names += [x.arg for x in a.kwonlyargs]
    if a.kwarg:
        names.append("**" + a.kwarg.arg)
    return [n for n in names if n not in ("self", "cls")]


def runtime_params(obj):
    out = []
    star = False
    for p in inspect.signature(obj).parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            star = True
        if p.kind == p.KEYWORD_ONLY and not star:
            out.append("*")
            star = True
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        out.append(prefix + p.name)
    return [n for n in out if n not in ("self", "cls")]


def class_members(node):
    out = {}
    for n in node.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[n.name] = n
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
            out[n.target.id] = n
    return out


def public_runtime_members(cls):
    names = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("rcontainer"):
            names |= {n for n in vars(klass) if not n.startswith("_")}
    names |= {n for n in getattr(cls, "__annotations__", {}) if not n.startswith("_")}
    names |= set(getattr(cls, "_fields", ()))
    return names


@pytest.mark.parametrize("module,stubfile", [(rcontainer, "__init__.pyi"), (_native, "_native.pyi"), (_errors, "_errors.pyi")])
def test_stub_names_match_module(module, stubfile):
    declared = top_names(stub(stubfile))
    public = {n for n in dir(module) if not n.startswith("_") and not inspect.ismodule(getattr(module, n))}
    if hasattr(module, "__all__"):
        exported = {n for n in module.__all__ if not n.startswith("__")}
        assert exported <= public
        public = exported
    if module is _errors:
        public -= {"Optional"}
    declared = set(declared) - {"__version__"}
    assert declared >= public, f"missing from {stubfile}: {sorted(public - declared)}"
    assert declared <= public, f"in {stubfile} but not in the module: {sorted(declared - public)}"
    assert hasattr(module, "__version__") == ("__version__" in top_names(stub(stubfile)))


@pytest.mark.parametrize("module,stubfile", [(rcontainer, "__init__.pyi"), (_native, "_native.pyi")])
def test_stub_signatures_and_members_match(module, stubfile):
    for name, node in top_names(stub(stubfile)).items():
        obj = getattr(module, name)
        if isinstance(node, ast.FunctionDef):
            assert stub_params(node) == runtime_params(obj), name
        if isinstance(node, ast.ClassDef):
            members = class_members(node)
            runtime = public_runtime_members(obj)
            assert {m for m in members if not m.startswith("_")} == runtime, name
            for m, fn in members.items():
                if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and not any(
                    isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list
                ):
                    target = getattr(obj, m)
                    if m == "__init__" and module is _native:
                        continue
                    try:
                        sig = runtime_params(target)
                    except (ValueError, TypeError):
                        continue  # builtin without a signature
                    assert stub_params(fn) == sig, f"{name}.{m}"


def test_every_public_name_has_a_docstring():
    assert rcontainer.__doc__
    for name in rcontainer.__all__:
        obj = getattr(rcontainer, name)
        if isinstance(obj, (int, str)):
            continue  # constants: documented in the stub
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for m in public_runtime_members(obj):
                attr = inspect.getattr_static(obj, m, None)
                if callable(attr) or isinstance(attr, (property, classmethod, staticmethod)):
                    assert inspect.getdoc(getattr(obj, m)), f"{name}.{m}"
    for name in dir(_native):
        if not name.startswith("_") and callable(getattr(_native, name)):
            assert inspect.getdoc(getattr(_native, name)), f"_native.{name}"


def test_package_is_typed():
    assert (PKG / "py.typed").exists()


def test_run_options_are_typed_for_editors_and_checkers(tmp_path):
    """run()/run_async() take Container.create()'s options as typed keywords (a TypedDict behind
    **create_kwargs): mypy accepts a right call and names a misspelt option and a wrong type."""
    import subprocess
    import sys

    (tmp_path / "ok.py").write_text(
        "import rcontainer\n"
        "r = rcontainer.run(['true'], memory='32M', sandbox=True, pids=3, capture_output=True, max_output=1024)\n"
        "t: bool = r.stdout_truncated\n"
        "async def f() -> None:\n    await rcontainer.run_async(['true'], memory_swap=-1, user=(1, 1))\n"
        "c = rcontainer.run(image='busybox', entrypoint=['sh', '-c'], read_only=True, plain_http=True, credentials=('u', 'p'))\n"
        "i: rcontainer.Image = rcontainer.pull('busybox', store='/tmp/s')\n"
        "names: list[str] = [x.name for x in rcontainer.images()] + [x.short_id for x in rcontainer.import_image('/x', 'a:b')]\n"
        "b: int = rcontainer.prune(root=['/run/a']).bytes + rcontainer.remove_image('busybox').size\n"
    )
    (tmp_path / "bad.py").write_text(
        "import rcontainer\nrcontainer.run(['true'], memroy='32M')\nrcontainer.run(['true'], pids='many')\nrcontainer.run(image='a', credentials='u:p')\n"
    )

    def mypy(name):
        return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(tmp_path / name)], capture_output=True, text=True, timeout=300)

    ok = mypy("ok.py")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = mypy("bad.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert 'Unexpected keyword argument "memroy"' in bad.stdout and 'Argument "pids" to "run" has incompatible type "str"' in bad.stdout, bad.stdout
    assert 'Argument "credentials" to "run" has incompatible type "str"' in bad.stdout, bad.stdout
