"""The two-tower config reference (issue #17): the annotated example, `embedrec two-tower
config`, the reference tables rendered from the config classes, and docs/two-tower-config.md.

Tests that need ``TwoTowerConfig`` (it lives beside the torch model) skip without torch, as
the other two-tower tests do; the rest run on every CI lane.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from click.testing import CliRunner

from embedrec.cli.main import cli
from embedrec.cli.two_tower import (
    FILE_KEYS,
    REFERENCE_BEGIN,
    REFERENCE_END,
    TwoTowerData,
    apply_overrides,
    example_config,
    field_docs,
    parse_override,
    read_two_tower_file,
    toml_default,
    toml_type,
    update_reference_page,
)
from embedrec.models.two_tower.spec import FeatureSpec, TowerConfig

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "two-tower-config.md"
EXAMPLE_FILE = "src/embedrec/models/two_tower/example_config.toml"
#: a TOML header line: [data], [[user.features]]
_HEADER = re.compile(r"^#?\s*\[\[?([\w.]+)\]\]?\s*$")
#: a key line, in use (`key = v`) or documented but commented out (`# key = v`)
_KEY = re.compile(r"^(#\s*)?([a-z][a-z0-9_]*)\s*=")


def documented_keys(text: str) -> dict[str, set[str]]:
    """Section ("" for the top level) -> keys written in it, in use or commented out.

    A commented-out header (``# [[item.features]]``) opens its section too, so the keys of a
    commented-out feature count for the features section.
    """
    keys: dict[str, set[str]] = {"": set()}
    section = ""
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            section = header.group(1)
            keys.setdefault(section, set())
            continue
        key = _KEY.match(line)
        if key:
            keys[section].add(key.group(2))
    return keys


def run(*args: object, ok: bool = True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


# ---------------------------------------------------------------------------- the example
def test_example_is_the_packaged_file():
    assert example_config() == (ROOT / EXAMPLE_FILE).read_text(encoding="utf-8")


def test_example_parses_and_validates_without_torch(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text(example_config())
    doc = read_two_tower_file(path)
    data = doc["data"]
    assert isinstance(data, TwoTowerData)
    assert (data.dataset, data.holdout, data.min_user_interactions) == (
        "movielens-100k",
        "leave-last-out",
        5,
    )
    # `out` is relative to the file's folder
    assert Path(doc["out"]) == tmp_path / "tt-movielens"
    user = TowerConfig.from_dict(doc["user"])
    item = TowerConfig.from_dict(doc["item"])
    user.validate_for("user")
    item.validate_for("item")
    assert [f.kind for f in user.features] == [
        "id",
        "history",
        "numeric",
        "categorical",
        "categorical",
        "categorical",
    ]
    assert user.feature("history").half_lives == (1.0, 3.0, 20.0)
    assert [f.name for f in item.features] == ["item", "genres", "year"]
    # the history pools through the item id table: the widths must agree
    assert user.embedding_dim == item.embedding_dim


def test_example_validates_as_a_two_tower_config(tmp_path):
    pytest.importorskip("torch")
    from embedrec.models.two_tower.model import TwoTowerConfig

    path = tmp_path / "m.toml"
    path.write_text(example_config())
    doc = read_two_tower_file(path)
    cfg = TwoTowerConfig.from_dict({**doc["model"], "user": doc["user"], "item": doc["item"]})
    assert (cfg.loss, cfg.history_mode, cfg.epochs, cfg.metric) == (
        "softmax",
        "prefix",
        20,
        "cosine",
    )


def commented_values(text: str) -> dict[str, object]:
    """The ``# key = value`` lines of ``text`` as a dict (values read as TOML)."""
    out: dict[str, object] = {}
    for key, raw in re.findall(r"^# ([a-z][a-z0-9_]*) = (.+)$", text, re.M):
        out[key] = parse_override(f"x.{key}={raw}")[2]
    return out


def test_commented_out_keys_are_valid_where_they_stand():
    """Uncommenting the pretrained feature, or the [data] keys of your own files, gives
    values the loader accepts: the commented keys are real keys with valid example values."""
    text = example_config()
    feature = commented_values(text[text.index("# [[item.features]]") :])
    spec = FeatureSpec.from_dict(feature)
    assert (spec.kind, spec.path, spec.trainable) == ("pretrained", "item2vec-movielens", False)
    own = commented_values(text[text.index("[data]") : text.index("# Keep only events")])
    assert set(own) == {
        "path", "interactions", "user_col", "item_col", "time_col", "weight_col", "sep",
        "no_header", "user_table", "user_key", "item_table", "item_key",
    }  # fmt: skip
    del own["path"]  # a data set's folder: it goes with `dataset`
    data = TwoTowerData.from_dict(own)
    assert (data.interactions, data.user_col, data.item_col, data.time_col, data.sep) == (
        "events.csv",
        "user",
        "item",
        "ts",
        ",",
    )
    assert TwoTowerData.from_dict({"dataset": "movielens-100k", "path": "ml-100k"}).path


def test_every_accepted_key_is_in_the_example():
    """A new config field without a line in the example fails here."""
    pytest.importorskip("torch")
    from embedrec.models.two_tower.model import TwoTowerConfig

    def names(cls: type, skip: tuple[str, ...] = ()) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)} - set(skip)

    found = documented_keys(example_config())
    expected = {
        "": {k for k in FILE_KEYS if k == "out"},
        "data": names(TwoTowerData),
        "model": names(TwoTowerConfig, ("user", "item")),
        "user": names(TowerConfig, ("features",)),
        "item": names(TowerConfig, ("features",)),
    }
    for section, keys in expected.items():
        missing = keys - found.get(section, set())
        assert not missing, f"[{section}] of the example lacks {sorted(missing)}"
        extra = found.get(section, set()) - keys
        assert not extra, f"[{section}] of the example has unknown keys {sorted(extra)}"
    features = found["user.features"] | found["item.features"]
    assert features == names(FeatureSpec)
    # every feature kind is shown at least once
    kinds = set(re.findall(r'^#?\s*kind = "(\w+)"', example_config(), re.M))
    assert kinds == {"id", "categorical", "multi_categorical", "numeric", "history", "pretrained"}


def test_documented_keys_reads_sections_and_comments():
    text = (
        'out = "x"\n[data]\n# path = "p"\nholdout = "none"\n'
        "# [[item.features]]\n# trainable = true\n"
    )
    assert documented_keys(text) == {
        "": {"out"},
        "data": {"path", "holdout"},
        "item.features": {"trainable"},
    }


# ---------------------------------------------------------------------------- the command
def test_config_prints_the_example():
    res = run("two-tower", "config")
    assert res.stdout == example_config()


def test_config_out_writes_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "m.toml"
    run("two-tower", "config", "--out", out)
    assert out.read_text() == example_config()
    out.write_text("mine")
    res = run("two-tower", "config", "--out", out, ok=False)
    assert res.exit_code == 2
    assert "exists" in res.output and "nothing is overwritten" in res.output
    assert out.read_text() == "mine"


def test_train_help_points_to_the_example_and_the_page():
    res = run("two-tower", "train", "--help")
    text = " ".join(res.output.split())
    assert "embedrec two-tower config" in text
    assert "docs/two-tower-config.md" in text


# ---------------------------------------------------------------------------- --set
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model.epochs=3", ("model", "epochs", 3)),
        ("model.lr=0.01", ("model", "lr", 0.01)),
        ("user.hidden=[64, 32]", ("user", "hidden", [64, 32])),
        ("user.l2_normalize=false", ("user", "l2_normalize", False)),
        ('data.sep="\\t"', ("data", "sep", "\t")),
        ("data.holdout=none", ("data", "holdout", "none")),  # a bare word is a string
        ("out=tt", (None, "out", "tt")),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs", "SECTION.KEY=VALUE"),
        ("epochs=3", "needs its section"),
        ("modle.epochs=3", "unknown section 'modle'"),
        ("user.features=[]", "[[user.features]]"),
    ],
)
def test_bad_override_is_refused(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        apply_overrides({}, [text])


def test_overrides_do_not_change_the_parsed_file():
    doc = {"model": {"epochs": 20}}
    new = apply_overrides(doc, ["model.epochs=2", "data.holdout=none"])
    assert new == {"model": {"epochs": 2}, "data": {"holdout": "none"}}
    assert doc == {"model": {"epochs": 20}}


# ---------------------------------------------------------------------------- [data]
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "needs `dataset`"),
        ({"dataset": "movielens-100k", "interactions": "x.csv"}, "remove ['interactions']"),
        ({"dataset": "movielens-1m"}, "dataset='movielens-1m' is invalid"),
        ({"interactions": "x.csv", "user_col": "u"}, "needs ['item_col']"),
        ({"interactions": "x.csv", "user_col": "u", "item_col": "i", "path": "d"}, "path"),
        ({"dataset": "movielens-100k", "holdout": "last"}, "holdout='last' is invalid"),
        ({"dataset": "movielens-100k", "test_fraction": 1.0}, "a number in (0, 1)"),
        ({"dataset": "movielens-100k", "min_user_interactions": 0}, "an integer >= 1"),
        ({"dataset": "movielens-100k", "no_header": "yes"}, "true or false"),
        ({"dataset": "movielens-100k", "holdot": "none"}, "unknown TwoTowerData fields"),
    ],
)
def test_bad_data_part_is_refused(values, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TwoTowerData.from_dict(values)


def test_data_paths_are_relative_to_the_file(tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    path = folder / "m.toml"
    path.write_text(
        'out = "model"\n[data]\ninteractions = "log.csv"\nuser_col = "u"\nitem_col = "i"\n'
        'item_table = "/abs/items.csv"\n[[user.features]]\nname = "w"\nkind = "pretrained"\n'
        'path = "vec.txt"\n'
    )
    doc = read_two_tower_file(path)
    assert doc["out"] == str(folder / "model")
    assert doc["data"].interactions == str(folder / "log.csv")
    assert doc["data"].item_table == "/abs/items.csv"
    assert doc["user"]["features"][0]["path"] == str(folder / "vec.txt")
    # a path given on the command line is relative to the current directory, as typed
    doc = read_two_tower_file(path, ["data.user_table=users.csv", "out=here"])
    assert (doc["data"].user_table, doc["out"]) == ("users.csv", "here")


def test_a_part_that_is_not_a_table_is_refused(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('data = "movielens-100k"\n')
    with pytest.raises(ValueError, match=r"`data` must be a table \(\[data\]\), not a value"):
        read_two_tower_file(path)


def test_unknown_data_key_names_the_file(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[data]\ndataset = "movielens-100k"\nholdot = "none"\n')
    with pytest.raises(ValueError, match=r"m\.toml: unknown TwoTowerData fields \['holdot'\]"):
        read_two_tower_file(path)


# ---------------------------------------------------------------------------- the renderer
@dataclass(frozen=True, kw_only=True)
class _Toy:
    """A toy config.

    Parameters
    ----------
    mode : {"a", "b|c"}, default "a"
        Uses :class:`~embedrec.vectors.Embeddings` and ``x``.
    lo, hi : int
        Both bounds, see :meth:`TowerConfig.from_dict`.
    sizes : tuple of int, optional
    """

    mode: Literal["a", "b|c"] = "a"
    lo: int = 0
    hi: int | None = None
    sizes: tuple[int, ...] = (1, 2)
    flag: bool = True


def test_field_docs_reads_grouped_entries_and_roles():
    assert field_docs(_Toy) == {
        "mode": "Uses `Embeddings` and `x`.",
        "lo": "Both bounds, see `TowerConfig.from_dict`.",
        "hi": "Both bounds, see `TowerConfig.from_dict`.",
        "sizes": "",
    }


def test_toml_types_and_defaults():
    fields = {f.name: f for f in dataclasses.fields(_Toy)}
    hints = _Toy.__annotations__
    assert toml_type(eval(hints["mode"], globals())) == '`"a"`, `"b|c"`'
    assert toml_type(eval(hints["hi"], globals())) == "int"
    assert toml_type(eval(hints["sizes"], globals())) == "list of int"
    assert toml_type(str | int | None) == "str or int"
    assert [toml_default(fields[n]) for n in ("mode", "hi", "sizes", "flag")] == [
        '`"a"`',
        "unset",
        "`[1, 2]`",
        "`true`",
    ]
    assert toml_default(dataclasses.fields(FeatureSpec)[0]) == "required"


# ---------------------------------------------------------------------------- the page
def _generated_part(text: str) -> str:
    return text.split(REFERENCE_BEGIN, 1)[1].split(REFERENCE_END, 1)[0].strip()


def test_page_tables_equal_the_generated_ones(tmp_path):
    """The committed page holds exactly what the config classes render. To fix a failure run:
    python -c "from embedrec.cli.two_tower import update_reference_page as u;
    u('docs/two-tower-config.md')"."""
    pytest.importorskip("torch")
    from embedrec.cli.two_tower import reference_markdown

    committed = PAGE.read_text(encoding="utf-8")
    assert _generated_part(committed) == reference_markdown().strip(), (
        "docs/two-tower-config.md is out of date; regenerate it with update_reference_page"
    )
    copy = tmp_path / "page.md"
    copy.write_text(committed)
    assert update_reference_page(copy) is False  # already current: nothing rewritten


def test_reference_covers_every_field_with_a_description():
    pytest.importorskip("torch")
    from embedrec.cli.two_tower import reference_markdown
    from embedrec.models.two_tower.model import TwoTowerConfig

    rows = re.findall(r"^\| `(\w+)` \| .* \| (.+) \|$", reference_markdown(), re.M)
    keys = [k for k, _ in rows]
    expected = (
        ["out"]
        + [f.name for f in dataclasses.fields(TwoTowerData)]
        + [f.name for f in dataclasses.fields(TwoTowerConfig) if f.name not in ("user", "item")]
        + [f.name for f in dataclasses.fields(TowerConfig) if f.name != "features"]
        + [f.name for f in dataclasses.fields(FeatureSpec)]
    )
    assert keys == expected
    assert all(meaning.strip() for _, meaning in rows)
    res = run("two-tower", "config", "--reference")
    assert res.stdout == reference_markdown()


def test_update_reference_page_rewrites_only_the_generated_part(tmp_path):
    pytest.importorskip("torch")
    page = tmp_path / "page.md"
    page.write_text(f"intro\n{REFERENCE_BEGIN}\nstale\n{REFERENCE_END}\noutro\n")
    assert update_reference_page(page) is True
    text = page.read_text()
    assert text.startswith(f"intro\n{REFERENCE_BEGIN}\n### Top level")
    assert text.endswith(f"{REFERENCE_END}\noutro\n")
    assert "stale" not in text
    page.write_text("no markers")
    with pytest.raises(ValueError, match="lacks the markers"):
        update_reference_page(page)


def test_page_includes_the_one_example():
    """The page shows the packaged file through a snippet include (pymdownx.snippets), not a
    copy that could drift."""
    text = PAGE.read_text(encoding="utf-8")
    assert f'```toml\n--8<-- "{EXAMPLE_FILE}"\n```' in text
    assert (ROOT / EXAMPLE_FILE).is_file()


def test_page_walkthrough_uses_the_real_commands():
    """The bash blocks of the page name commands and flags that exist."""
    text = PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = [" ".join(b.replace("\\\n", " ").split()) for b in blocks]
    assert commands[0] == "embedrec two-tower config --out movielens.toml"
    assert "two-tower train --config movielens.toml --epochs 1" in commands[1]
    for cmd in commands:
        for line in cmd.split("embedrec ")[1:]:
            words = [w for w in line.split() if not w.startswith(("-", '"', "$"))]
            sub = words[:2] if words[0] in ("two-tower", "index") else words[:1]
            res = run(*sub, "--help")
            for flag in re.findall(r"(?<=\s)(--[a-z-]+)", " " + line):
                assert flag in res.output, f"`embedrec {' '.join(sub)}` has no {flag}"
