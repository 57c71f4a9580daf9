"""The library and the tools around it: the library (minirnn/ outside minirnn/tools/) imports nothing
from the tools, and runs with NumPy alone."""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "minirnn"
LIBRARY = sorted(p for p in PACKAGE.rglob("*.py")
                 if "tools" not in p.relative_to(PACKAGE).parts and p.name != "__main__.py")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, relative imports resolved to their absolute names."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_the_library_has_modules_to_check():
    assert len(LIBRARY) > 30


def test_no_library_module_imports_a_tool():
    offenders = {str(p.relative_to(PACKAGE.parent)): sorted(n for n in imported_modules(p)
                                                            if n.startswith("minirnn.tools"))
                 for p in LIBRARY}
    assert {k: v for k, v in offenders.items() if v} == {}


# The library's one use of an optional package: set_num_threads imports threadpoolctl when it is called,
# and says how to install it when it is missing.
CALLED_ON_DEMAND = {"minirnn/core/threads.py": {"threadpoolctl"}}


def test_the_library_imports_no_optional_package():
    optional = ("tqdm", "matplotlib", "torch", "threadpoolctl")
    offenders = {str(p.relative_to(PACKAGE.parent)): sorted(
                     n for n in imported_modules(p) if n.split(".")[0] in optional
                     and n.split(".")[0] not in CALLED_ON_DEMAND.get(str(p.relative_to(PACKAGE.parent)), ()))
                 for p in LIBRARY}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_library_trains_a_model_with_numpy_alone():
    """In a fresh process where the optional packages cannot be imported: import every library module,
    train a step, and no tool module is ever loaded."""
    code = textwrap.dedent("""
        import importlib, sys
        class Refuse:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("tqdm", "matplotlib", "torch", "threadpoolctl", "cupy"):
                    raise ImportError(f"{name} is not installed here")
        sys.meta_path.insert(0, Refuse())
        import numpy as np
        import minirnn
        for name in MODULES:
            importlib.import_module(name)
        model = minirnn.models.CharRNN(vocab_size=5, emb=3, hidden=4, cell="gru", seed=0)
        logits, _ = model(np.array([[0, 1], [2, 3]]))
        loss, d_logits = minirnn.cross_entropy(logits, np.array([[1, 2], [3, 4]]))
        model.backward(d_logits)
        loaded = sorted(m for m in sys.modules if m.startswith("minirnn.tools"))
        assert not loaded, loaded
        print("ok", round(loss, 6))
    """)
    modules = [".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
               for p in LIBRARY]
    result = subprocess.run([sys.executable, "-c", f"MODULES = {modules!r}\n" + code],
                            capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")
