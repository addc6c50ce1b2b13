"""Store URLs that cannot name a store are one-line input errors, never tracebacks, and never
show the password they carry."""

from __future__ import annotations

import pytest

from kg import InputError, open_store
from ui.cli import main


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("neo4j://u:secret@host:notaport/db", "notaport"),
        ("bolt://u:secret@host:99999/db", "99999"),
        ("neo4j+s://u:secret@[::1]:x/db", "x"),
    ],
)
def test_a_neo4j_url_with_a_bad_port(url: str, port: str) -> None:
    with pytest.raises(InputError, match="the port must be a number") as caught:
        open_store(url)
    assert f"not {port!r}" in str(caught.value) and "secret" not in str(caught.value)
    assert caught.value.field == "store"


def test_the_cli_says_so_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", "neo4j://u:secret@host:notaport/db", "stats"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "knowsync: error: store URL neo4j://host:notaport/...: the port must be a number "
        "from 0 to 65535, not 'notaport'"
    ]
