"""Building SFT pairs from profiles plus CPEG or reference explanations."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from explainrec.core.errors import InputError, ParamError
from explainrec.core.explanation_pairs import PAIR_COLUMNS, load_sft_data
from explainrec.core.explanation_prompt import RESPONSE_PREFIX, build_prompt
from explainrec.data.references import reference_table
from tests.sft import ITEMS, USERS, pair_rows, write_cpeg, write_items, write_profiles, write_splits


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    train, test = pair_rows("train", 6), pair_rows("test", 3, start=6)
    train[1]["verified"] = False
    train[2]["verified"] = None  # missing counts as not verified
    return {"profiles": write_profiles(tmp_path / "profiles"), "cpeg": write_cpeg(tmp_path / "cpeg", train + test),
            "splits": write_splits(tmp_path / "splits", train, test)}


def test_cpeg_targets_drop_unverified(folders):
    data = load_sft_data(folders["profiles"], folders["cpeg"], "cpeg", include_unverified=False)
    assert list(data.train.columns) == PAIR_COLUMNS
    assert len(data.train) == 4 and len(data.test) == 3
    assert ("u1", "i1") not in set(zip(data.train.user_id, data.train.item_id))
    assert data.stats["unverified_dropped"] == 2
    row = data.train.iloc[0]
    assert row.prompt == build_prompt(USERS[row.user_id], ITEMS[row.item_id])  # last layer by default
    assert row.target == f"{RESPONSE_PREFIX} they love space opera films." and row.reference == "they love space opera films."

    everything = load_sft_data(folders["profiles"], folders["cpeg"], "cpeg", include_unverified=True)
    assert len(everything.train) == 6


def test_items_table_names_each_item_in_its_prompt(folders, tmp_path):
    items = write_items(tmp_path / "items.parquet")
    data = load_sft_data(folders["profiles"], folders["cpeg"], "cpeg", include_unverified=True, items=items)
    prompts = dict(zip(zip(data.train.user_id, data.train.item_id), data.train.prompt))
    assert prompts["u0", "i0"] == build_prompt(USERS["u0"], ITEMS["i0"], "Film 0", "Sci-Fi")
    prompts = {i: p for (_, i), p in prompts.items()}
    assert "Item Title:\nFilm 2\nItem Profile:" in prompts["i2"]  # no categories: no categories line
    assert "Item Title" not in prompts["i3"] and "Item Categories:\nHorror" in prompts["i3"]
    assert data.stats["item_names"] is True
    no_cats = load_sft_data(folders["profiles"], folders["cpeg"], "cpeg", True,
                            items=write_items(tmp_path / "i2.parquet", categories=False))
    assert "Item Categories" not in "".join(no_cats.train.prompt)  # a dataset without categories
    plain = load_sft_data(folders["profiles"], folders["cpeg"], "cpeg", True)  # no items table: Fig. 4's prompt
    assert plain.train.prompt.iloc[0] == build_prompt(USERS["u0"], ITEMS["i0"]) and plain.stats["item_names"] is False
    with pytest.raises(InputError, match="nowhere.parquet.*filter stage"):
        load_sft_data(folders["profiles"], folders["cpeg"], "cpeg", True, items=tmp_path / "nowhere.parquet")


def test_target_forms_on_references_with_their_own_opening(folders, tmp_path):
    rows = pair_rows("train", 3)
    rows[0]["explanation"] = "The user would buy the book because it is a thriller."
    rows[1]["explanation"] = "You would enjoy the business for its tacos."
    write_splits(folders["splits"], rows, pair_rows("test", 2, start=3))
    ref = write_reference(folders["splits"], tmp_path / "ref")
    written = load_sft_data(folders["profiles"], ref, "reference")
    assert list(written.train.target) == ["The user would buy the book because it is a thriller.",
                                          "You would enjoy the business for its tacos.",
                                          f"{RESPONSE_PREFIX} they love western films."]
    assert written.stats["train_targets_own_opening"] == 2 and written.stats["train_targets_two_openings"] == 0
    fig4 = load_sft_data(folders["profiles"], ref, "reference", target_form="fig4")
    assert fig4.train.target.iloc[0] == f"{RESPONSE_PREFIX} it is a thriller."
    assert fig4.stats["train_targets_own_opening"] == 1 and fig4.stats["target_form"] == "fig4"
    assert list(fig4.train.reference) == list(written.train.reference)  # references stay as the source wrote them


def test_profile_layer_and_missing_profiles(folders, tmp_path):
    data = load_sft_data(folders["profiles"], folders["cpeg"], "cpeg", user_layer=0, item_layer=0)
    assert data.train.user_profile.str.startswith("draft ").all()
    users = {k: v for k, v in USERS.items() if k != "u0"}
    write_profiles(tmp_path / "p2", users=users)
    data = load_sft_data(tmp_path / "p2", folders["cpeg"], "cpeg")
    assert "u0" not in set(data.train.user_id) and data.stats["train_left_out_no_profile"] == 2  # (u0, i0), (u0, i4)


def write_reference(splits: Path, out: Path) -> Path:
    """What the reference stage writes for ``splits``."""
    table, _ = reference_table(splits)
    out.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out / "explanations.parquet", index=False)
    return out


def test_reference_targets_use_the_explanation_column(folders, tmp_path):
    rows = pair_rows("train", 4)
    rows[0]["explanation"] = "a reference that CPEG never wrote."
    write_splits(folders["splits"], rows, pair_rows("test", 2, start=4))
    data = load_sft_data(folders["profiles"], write_reference(folders["splits"], tmp_path / "ref"), "reference")
    assert len(data.train) == 4 and len(data.test) == 2
    assert data.train.reference.iloc[0] == "a reference that CPEG never wrote."


def test_reference_targets_fail_clearly_without_the_column(folders, tmp_path):
    write_splits(folders["splits"], pair_rows("train", 4), pair_rows("test", 2), with_explanation=False)
    ref = write_reference(folders["splits"], tmp_path / "ref")
    assert pd.read_parquet(ref / "explanations.parquet").empty  # the reference stage itself does not fail
    with pytest.raises(InputError) as e:
        load_sft_data(folders["profiles"], ref, "reference")
    msg = str(e.value)
    assert "ref/explanations.parquet" in msg and "'explanation'" in msg and "sft.targets: cpeg" in msg


def test_reference_targets_fail_clearly_when_all_empty(folders, tmp_path):
    rows = [{**r, "explanation": " "} for r in pair_rows("train", 4)]
    write_splits(folders["splits"], rows, rows)
    with pytest.raises(InputError, match="'explanation'.*ships none"):
        load_sft_data(folders["profiles"], write_reference(folders["splits"], tmp_path / "ref"), "reference")


def test_bad_cpeg_input_and_params(folders, tmp_path):
    with pytest.raises(InputError, match="explanations.parquet.*run `dvc repro cpeg`"):
        load_sft_data(folders["profiles"], tmp_path / "nowhere", "cpeg")
    pd.DataFrame({"split": ["train"], "user_id": ["u0"], "item_id": ["i0"]}).to_parquet(tmp_path / "cpeg" / "explanations.parquet")
    with pytest.raises(InputError, match="field 'explanation'"):
        load_sft_data(folders["profiles"], tmp_path / "cpeg", "cpeg")
    with pytest.raises(ParamError, match="sft.targets"):
        load_sft_data(folders["profiles"], folders["cpeg"], "gold")


def test_no_usable_train_pair_fails(folders, tmp_path):
    rows = [{**r, "verified": False} for r in pair_rows("train", 3)]
    write_cpeg(tmp_path / "c2", rows + pair_rows("test", 2))
    with pytest.raises(InputError) as e:
        load_sft_data(folders["profiles"], tmp_path / "c2", "cpeg")
    msg = str(e.value)
    assert "usable train pair" in msg and "verified only" in msg and "sft.include_unverified: true" in msg
    assert "none: 3 unverified, 0 without profiles, 0 empty" in msg and "\n" not in msg
    assert len(load_sft_data(folders["profiles"], tmp_path / "c2", "cpeg", True).train) == 3


def test_no_usable_test_pair_is_named_by_require(folders, tmp_path):
    rows = pair_rows("train", 3) + [{**r, "verified": False} for r in pair_rows("test", 2, start=3)]
    write_cpeg(tmp_path / "c3", rows)
    data = load_sft_data(folders["profiles"], tmp_path / "c3", "cpeg")
    assert data.test.empty and data.stats["test_left_out_unverified"] == 2 and data.stats["unverified_dropped"] == 2
    with pytest.raises(InputError, match=r"c3/explanations.parquet: .*usable test pair.*none: 2 unverified"):
        data.require("test")
    data.require("train")  # has pairs: no error
