"""Known answers for the one key policy (embedrec.keys): the policy table of its docstring."""

from __future__ import annotations

import numpy as np
import pytest

from embedrec.keys import (
    as_key,
    format_keys,
    is_key,
    key_array,
    key_column,
    keys_array,
    normalise_keys,
    pad_key,
    parse_key,
    plain,
    unknown_keys_error,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", True),
        (np.str_("a"), True),
        (3, True),
        (np.int8(3), True),
        (np.uint64(3), True),
        (True, False),
        (np.bool_(True), False),
        (1.0, False),
        (np.float32(1.0), False),
        (b"a", False),
        (None, False),
        ((1,), False),
    ],
)
def test_is_key_policy_table(value, expected):
    assert is_key(value) is expected


def test_as_key_gives_builtin_types():
    assert type(as_key(np.int64(7))) is int and as_key(np.int64(7)) == 7
    assert type(as_key(np.str_("x"))) is str and as_key(np.str_("x")) == "x"


def test_plain_unwraps_numpy_scalars_only():
    assert type(plain(np.int32(2))) is int
    assert plain("a") == "a" and plain(None) is None and plain((1, 2)) == (1, 2)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["a", "b"], (["a", "b"], "str")),
        ([np.str_("a"), "b"], (["a", "b"], "str")),
        ([1, 2], ([1, 2], "int")),
        ([np.int32(1), np.uint8(2)], ([1, 2], "int")),
        (np.array([5, 6], dtype=np.int16), ([5, 6], "int")),
        (np.array(["x"]), (["x"], "str")),
        ([], ([], "str")),
    ],
)
def test_normalise_keys_known_answers(keys, expected):
    out, key_type = normalise_keys(keys)
    assert (out, key_type) == expected
    assert all(type(k) is (int if key_type == "int" else str) for k in out)


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        (["a", 1], "mix str"),
        ([1, True], "key #1 is True of type bool"),
        ([1.0], "key #0 is 1.0 of type float"),
        ([b"a"], "of type bytes"),
        (["a", None], "key #1 is None"),
        ("abc", "must be a sequence"),
        (5, "must be a sequence"),
    ],
)
def test_normalise_keys_refusals(keys, match):
    with pytest.raises(TypeError, match=match):
        normalise_keys(keys)


def test_normalise_keys_refuses_2d_arrays():
    with pytest.raises(ValueError, match="must be 1-D"):
        normalise_keys(np.array([[1, 2]]))


def test_keys_array_dtypes():
    assert keys_array([1, 2], "int").dtype == np.int64
    assert keys_array(["a"], "str").dtype == object
    # 2**70 does not fit int64: object array, values kept exactly
    big = keys_array([2**70], "int")
    assert big.dtype == object and big.tolist() == [2**70]
    assert key_array([1, 2]).dtype == np.int64
    assert key_array([1, "a"]).dtype == object
    assert key_array([True]).dtype == object  # bools are not int keys


def test_parse_key_text_policy():
    assert parse_key("42", "int") == 42
    assert parse_key("-42", "int") == -42
    assert parse_key("+42", "int") == "+42"  # only -?[0-9]{1,30} is integer text
    assert parse_key("4.0", "int") == "4.0"
    assert parse_key("x", "int") == "x"
    assert parse_key("1" * 31, "int") == "1" * 31
    assert parse_key(7, "int") == 7
    assert parse_key(7, "str") == "7"
    assert parse_key("07", "str") == "07"


def test_pad_key():
    assert pad_key("int") == -1 and pad_key("str") is None


def test_messages_list_at_most_ten_keys():
    assert format_keys(["a", np.int64(3)]) == "['a', 3]"
    assert format_keys(list(range(12))).endswith("9 and 2 more]")
    err = unknown_keys_error(["zz"])
    assert isinstance(err, KeyError) and "1 unknown key(s): ['zz']" in str(err)


class TestKeyColumn:
    """Strict (arrays a caller typed) versus coerce (columns a file reader typed)."""

    def test_ints_and_strs_both_modes(self):
        for coerce in (False, True):
            ints = key_column(np.array([3, 1], dtype=np.uint16), "k", coerce=coerce)
            assert ints.dtype == np.int64 and ints.tolist() == [3, 1]
            strs = key_column(np.array(["b", "a"]), "k", coerce=coerce)
            assert strs.dtype == object and strs.tolist() == ["b", "a"]

    def test_object_ints_become_int64(self):
        for coerce in (False, True):
            out = key_column(np.array([3, 1], dtype=object), "k", coerce=coerce)
            assert out.dtype == np.int64

    def test_mixed_refused_strict_str_when_coerced(self):
        with pytest.raises(TypeError, match="all int or all str"):
            key_column([1, "a"], "k")
        mixed = key_column(np.array([1, "a"], dtype=object), "k", coerce=True)
        assert mixed.tolist() == ["1", "a"]

    def test_floats_refused_strict_integral_ones_kept_when_coerced(self):
        with pytest.raises(TypeError, match="dtype float64; keys must be int or str"):
            key_column(np.array([1.0]), "k")
        with pytest.raises(TypeError, match="double values; keys must be int or str"):
            key_column([1.0, 2.0], "k")
        assert key_column(np.array([2.0, 5.0]), "k", coerce=True).tolist() == [2, 5]
        with pytest.raises(ValueError, match="non-integer"):
            key_column(np.array([2.5]), "k", coerce=True)

    def test_missing_keys_are_errors(self):
        with pytest.raises(ValueError, match="1 missing"):
            key_column(["a", None], "k")
        with pytest.raises(ValueError, match="k has 1 missing"):
            key_column(np.array([1.0, np.nan]), "k", coerce=True)
        with pytest.raises(ValueError, match="k has 1 missing"):
            key_column(np.array(["a", None], dtype=object), "k", coerce=True)

    def test_above_int64_refused(self):
        with pytest.raises(ValueError, match="above the int64 range"):
            key_column(np.array([2**63], dtype=np.uint64), "k")

    def test_single_string_is_not_a_column(self):
        with pytest.raises(TypeError, match="single str"):
            key_column("abc", "k")
