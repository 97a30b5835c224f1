"""What the README promises about the tests and the docs: the session starts its own broker unless told to reuse one
(documented next to the test command), and every doc is linked."""

from conftest import REUSE_VARIABLE, broker_to_reuse


def test_a_broker_answering_at_the_users_address_is_not_reused():
    assert broker_to_reuse({"PCFX_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}) is None
    assert broker_to_reuse({REUSE_VARIABLE: "  "}) is None


def test_only_the_explicit_variable_names_a_broker_to_reuse():
    assert REUSE_VARIABLE == "PCFX_TEST_BOOTSTRAP_SERVERS"
    assert broker_to_reuse({REUSE_VARIABLE: "127.0.0.1:19092", "PCFX_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}) == "127.0.0.1:19092"


def test_the_readme_documents_the_variable_next_to_the_test_command():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    command = readme.index("python -m pytest -q")
    assert REUSE_VARIABLE in readme[command : command + 800]


def test_the_readme_links_every_doc():
    from pathlib import Path

    root = Path(__file__).parents[2]
    readme = (root / "README.md").read_text()
    assert [doc.name for doc in sorted((root / "docs").glob("*.md")) if f"](docs/{doc.name})" not in readme] == []
