"""A client-only install (``pip install knowsync``, no ``server`` or ``model`` extra) imports
and works: ``knowsync.Client`` pulls in none of the server stack, and talks to a live server from
a process in which every package of those extras is missing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from .conftest import Env

ROOT = Path(__file__).resolve().parents[2]

# Import names of what the extras bring, and the project's own server-side packages.
SERVER_SIDE = (
    "controller",
    "editor",
    "fastapi",
    "gradio",
    "interpreter",
    "langchain",
    "langchain_core",
    "multipart",
    "neo4j",
    "networkx",
    "pandas",
    "rapidfuzz",
    "starlette",
    "torch",
    "transformers",
    "ui",
    "uvicorn",
)

_BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = set(sys.argv[1].split(","))

    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (client-only install)")
            return None

    sys.meta_path.insert(0, Missing())
    """
)


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = _BLOCKER + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script, ",".join(SERVER_SIDE), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_base_dependencies_leave_out_the_server_stack() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {
        d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in meta["dependencies"]
    }
    assert not base & {"fastapi", "gradio", "uvicorn", "neo4j", "networkx", "langchain", "torch"}
    assert {"server", "model"} <= set(meta["optional-dependencies"])


def test_importing_the_client_imports_no_server_module() -> None:
    done = _run(
        """
        import sys
        from knowsync import Client, EditRefused, Decision
        loaded = sorted({m.split(".")[0] for m in sys.modules} & BLOCKED)
        print(loaded)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_client_works_without_the_server_stack(env: Env, live: str) -> None:
    env.kb.edit([("France", "capital", "Paris")], user="admin")
    done = _run(
        """
        import json, sys
        from knowsync import Client, NotFoundError
        with Client(sys.argv[2], sys.argv[3]) as kb:
            result = kb.edit([("Italy", "capital", "Rome")])
            facts = [list(f.triple) for f in kb.facts("France")]
            try:
                kb.show(10_000)
                missing = None
            except NotFoundError as exc:
                missing = type(exc).__name__
        print(json.dumps({"decision": result.decision.value, "facts": facts, "missing": missing}))
        """,
        live,
        env.tokens["admin"],
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["decision"] == "accepted"
    assert ["France", "capital", "Paris"] in out["facts"]
    assert out["missing"] == "NotFoundError"
