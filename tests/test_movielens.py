"""MovieLens loaders, dataset resolution, one-line errors, and the verified download cache."""
from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ytdnn.data as data
import ytdnn.download as dl
from ytdnn.data import DataError, load
from ytdnn.movielens import load_ml_1m, load_ml_100k, load_ml_latest_small, read_md5sums

REPO = Path(__file__).resolve().parents[1]
SHARED_SMALL = REPO.parent / "shared" / "datasets" / "ml-latest-small"


def small_root() -> Path:
    root = data.find_root("ml-latest-small")
    assert root is not None, (
        "ml-latest-small not found: expected it at <repo>/../shared/datasets/ml-latest-small or $YTDNN_DATA"
    )
    return root


# ---------------------------------------------------------------- real data


def test_ml_latest_small_counts():
    ds = load("ml-latest-small")  # found without any path
    r = ds.interactions
    assert len(r) == 100_836
    assert r["user_id"].nunique() == 610
    assert len(ds.items) == 9_742 and ds.items["item_id"].is_unique
    assert r["item_id"].nunique() == 9_724  # 18 movies are listed but never rated
    assert len(ds.extras["tags"]) == 3_683
    assert list(r.columns) == ["user_id", "item_id", "timestamp", "rating"]
    assert r[["user_id", "item_id", "timestamp"]].dtypes.tolist() == [np.int64] * 3
    assert (r["timestamp"].min(), r["timestamp"].max()) == (828_124_615, 1_537_799_250)
    assert set(np.unique(r["rating"])) == {0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0}
    toy = ds.items.set_index("item_id").loc[1]
    assert toy["title"] == "Toy Story (1995)" and toy["genres"].startswith("Adventure|Animation")
    s = ds.summary()
    assert (s["users"], s["items"], s["interactions"]) == (610, 9_742, 100_836)


def test_sources_json_matches_shipped_md5sums():
    spec = dl.load_sources()["ml-latest-small"]
    shipped = read_md5sums(small_root() / "MD5SUMS")
    assert {f"ml-latest-small/{k}": v for k, v in shipped.items()} == spec["members_md5"]
    assert dl.load_sources()["ml-100k"]["md5"] == "0e33842e24a9c977be4e0107933c0723"
    assert dl.load_sources()["ml-1m"]["md5"] == "c4d9eecfca2ab87c1945afe126590906"


@pytest.fixture()
def small_copy(tmp_path) -> Path:
    dest = tmp_path / "ml-latest-small"
    shutil.copytree(small_root(), dest)
    dest.chmod(0o755)  # the shared copy is read-only, folder included
    for p in dest.iterdir():
        p.chmod(0o644)
    return dest


def test_truncated_file_caught_by_md5sums(small_copy):
    ratings = small_copy / "ratings.csv"
    ratings.write_bytes(ratings.read_bytes()[:-1000])
    with pytest.raises(DataError) as err:
        load("ml-latest-small", small_copy)
    msg = str(err.value)
    assert msg.startswith(f"{ratings}: md5 mismatch (expected 325a6f09399d1c45671f187505e1a100 from MD5SUMS")
    assert "\n" not in msg


def test_truncated_row_without_md5sums(small_copy):
    (small_copy / "MD5SUMS").unlink()
    ratings = small_copy / "ratings.csv"
    ratings.write_bytes(ratings.read_bytes().rstrip(b"\r\n")[:-12])  # cut the last row mid-way
    with pytest.raises(DataError) as err:
        load_ml_latest_small(small_copy)
    assert str(err.value) == (
        f"{ratings}: line 100837: last line cut short (no newline at end of file): "
        "expected 4 comma-separated fields, found 3"
    )


def test_verify_false_skips_md5(small_copy):
    movies = small_copy / "movies.csv"
    movies.write_bytes(movies.read_bytes().replace(b"Toy Story", b"Toy Storm"))
    with pytest.raises(DataError, match="movies.csv: md5 mismatch"):
        load_ml_latest_small(small_copy)
    ds = load_ml_latest_small(small_copy, verify=False)
    assert ds.items.set_index("item_id").loc[1, "title"] == "Toy Storm (1995)"


def test_wrong_header_and_garbage(small_copy):
    (small_copy / "MD5SUMS").unlink()
    (small_copy / "ratings.csv").write_text("user,movie,stars,time\n1,2,3,4\n")
    with pytest.raises(DataError, match=r"ratings\.csv: unexpected header 'user,movie,stars,time'"):
        load_ml_latest_small(small_copy)
    (small_copy / "ratings.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(DataError, match=r"ratings\.csv: line 1: not utf-8 text \(bad byte at offset 0\)$"):
        load_ml_latest_small(small_copy)
    (small_copy / "ratings.csv").write_bytes(b"")
    with pytest.raises(DataError, match=r"ratings\.csv: file is empty"):
        load_ml_latest_small(small_copy)
    (small_copy / "ratings.csv").unlink()
    with pytest.raises(DataError, match=r"ratings\.csv: file not found"):
        load_ml_latest_small(small_copy)


# ------------------------------------------------------- tiny fixtures in the real formats

U_ITEM_ROW = "{id}|{title}|01-Jan-1995||http://us.imdb.com/x|" + "|".join(["0"] * 19)


def write_ml100k(root: Path, *, with_meta: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = [(196, 242, 3, 881250949), (186, 302, 3, 891717742), (22, 377, 1, 878887116),
            (196, 302, 5, 881250950), (22, 242, 4, 878887200)]
    (root / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    if with_meta:
        items = []
        for mid, title, genres in [(242, "Kolya (1996)", [5]), (302, "L.A. Confidential (1997)", [6, 8, 16]),
                                   (377, "Heavyweights (1994)", [4, 5]), (1, "Café au lait (1993)", [0])]:
            flags = ["1" if g in genres else "0" for g in range(19)]
            items.append(f"{mid}|{title}|01-Jan-1995||http://us.imdb.com/x|" + "|".join(flags))
        (root / "u.item").write_bytes(("\n".join(items) + "\n").encode("latin-1"))
        (root / "u.user").write_text("22|25|M|writer|40206\n186|39|F|executive|00000\n196|49|M|writer|55105\n")
    return root


def write_ml1m(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    movies = '1193::One Flew Over the Cuckoo\'s Nest (1975)::Drama\n661::James and the "Giant", Peach (1996)::Animation|Children\'s|Musical\n2::Ménage (1986)::Comedy\n'
    (root / "movies.dat").write_bytes(movies.encode("latin-1"))
    (root / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return root


def test_ml100k_loader(tmp_path):
    ds = load("ml-100k", write_ml100k(tmp_path / "ml-100k"))
    r = ds.interactions
    assert list(r.columns) == ["user_id", "item_id", "timestamp", "rating"]
    assert len(r) == 5 and r["user_id"].nunique() == 3 and r["rating"].dtype == np.float32
    items = ds.items.set_index("item_id")
    assert items.loc[302, "genres"] == "Crime|Drama|Thriller"
    assert items.loc[1, "title"] == "Café au lait (1993)"  # latin-1 decoded
    assert ds.users.set_index("user_id").loc[186, "gender"] == "F"
    assert ds.summary()["users"] == 3 and ds.summary()["items"] == 4


def test_ml100k_only_u_data(tmp_path):
    ds = load_ml_100k(write_ml100k(tmp_path / "ml-100k", with_meta=False))
    assert ds.items is None and ds.users is None and len(ds.interactions) == 5
    assert ds.summary()["items"] == 3  # falls back to ids seen in ratings


def test_ml1m_loader(tmp_path):
    ds = load_ml_1m(write_ml1m(tmp_path / "ml-1m"))
    assert len(ds.interactions) == 3 and ds.interactions["timestamp"].tolist() == [978300760, 978302109, 978298413]
    items = ds.items.set_index("item_id")
    assert items.loc[661, "title"] == 'James and the "Giant", Peach (1996)'
    assert items.loc[2, "title"] == "Ménage (1986)"
    assert items.loc[661, "genres"] == "Animation|Children's|Musical"
    assert ds.users.set_index("user_id").loc[2, "age"] == 56


def test_ml100k_and_ml1m_bad_input(tmp_path):
    root = write_ml100k(tmp_path / "ml-100k")
    (root / "u.data").write_text("196\t242\t3\t881250949\n186\t302\tx\t891717742\n")
    with pytest.raises(DataError, match=r"u\.data: line 2: rating 'x' is not a number$"):
        load_ml_100k(root)
    (root / "u.data").unlink()
    with pytest.raises(DataError) as err:
        load("ml-100k", root)
    assert str(err.value) == f"{root / 'u.data'}: file not found"

    root = write_ml1m(tmp_path / "ml-1m")
    (root / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::97830")  # cut inside the timestamp
    with pytest.raises(DataError, match=r"ratings\.dat: line 2: last line cut short .*timestamp '97830' is shorter"):
        load_ml_1m(root)
    (root / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3")  # cut before it
    with pytest.raises(DataError, match=r"ratings\.dat: line 2: last line cut short \(no newline at end of file\): expected 4 '::'-separated fields, found 3$"):
        load_ml_1m(root)


def test_unknown_name_and_missing_root(tmp_path):
    with pytest.raises(DataError) as err:
        load("ml-20m")
    assert str(err.value) == "ml-20m: unknown dataset (known: simulator, ml-latest-small, ml-100k, ml-1m)"
    with pytest.raises(DataError, match="folder not found"):
        load("ml-1m", tmp_path / "nope")


def test_resolution_env_and_not_found(tmp_path, monkeypatch):
    write_ml100k(tmp_path / "datasets" / "ml-100k")
    monkeypatch.setenv("YTDNN_DATA", str(tmp_path / "datasets"))
    assert data.find_root("ml-100k") == tmp_path / "datasets" / "ml-100k"
    assert len(load("ml-100k").interactions) == 5
    monkeypatch.setattr(data, "candidate_roots", lambda name: [tmp_path / "empty"])
    with pytest.raises(DataError, match=r"^ml-1m: ratings\.dat not found \(looked in .*empty\)"):
        load("ml-1m")


# ------------------------------------------------ every field of every file is validated

SMALL_FILES = {  # a tiny ml-latest-small in the real layout: CRLF line ends, CSV quoting
    "ratings.csv": ["userId,movieId,rating,timestamp", "1,1,4.0,964982703", "1,3,0.5,964981247",
                    "2,1,5.0,1445714835", "2,11,3.5,1445714996"],
    "movies.csv": ["movieId,title,genres", "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
                   '11,"American President, The (1995)",Comedy|Drama|Romance',
                   "3,Grumpier Old Men (1995),Comedy|Romance", "4,Unknown Film (2018),(no genres listed)"],
    "links.csv": ["movieId,imdbId,tmdbId", "1,0114709,862", "11,0112346,9087", "3,0113228,", "4,0000001,15602"],
    "tags.csv": ["userId,movieId,tag,timestamp", "2,11,funny,1445714994", '2,1,"""artsy""",1445714996',
                 "1,3,Highly quotable,1445715000"],
}


def write_small(root: Path) -> Path:
    """A small ml-latest-small folder (no MD5SUMS), written the way GroupLens writes it."""
    root.mkdir(parents=True, exist_ok=True)
    for name, lines in SMALL_FILES.items():
        (root / name).write_bytes("".join(line + "\r\n" for line in lines).encode("utf-8"))
    return root


WRITERS = {"ml-100k": write_ml100k, "ml-1m": write_ml1m, "ml-latest-small": write_small}
ENCODING = {"ml-100k": "latin-1", "ml-1m": "latin-1", "ml-latest-small": "utf-8"}
# The ratings file of each format: name, separator, how messages name it, header lines, a valid rating.
RATINGS = {
    "ml-100k": ("u.data", "\t", "tab", 0, "3"),
    "ml-1m": ("ratings.dat", "::", "'::'", 0, "3"),
    "ml-latest-small": ("ratings.csv", ",", "comma", 1, "3.5"),
}
CUT = "last line cut short (no newline at end of file): "


def put_line(path: Path, line_no: int, new: str, encoding: str, *, cut: bool = False) -> None:
    """Replace line ``line_no`` (1-based) of ``path``; ``cut``: it becomes the last line, without newline."""
    lines = path.read_bytes().decode(encoding).splitlines(keepends=True)
    eol = "\r\n" if lines[0].endswith("\r\n") else "\n"
    lines[line_no - 1] = new if cut else new + eol
    path.write_bytes("".join(lines[:line_no] if cut else lines).encode(encoding))


def rating_cases() -> list:
    """(dataset, fields of the bad line or None for a blank line, cut, problem) for each ratings file."""
    cases = []
    for name, (_, sep, sep_name, _, ok) in RATINGS.items():
        scale = ("on the 0.5..5.0 scale in steps of 0.5" if name == "ml-latest-small"
                 else "on the 1..5 scale (whole stars)")
        too_high, not_a_step = ("5.5", "3.25") if name == "ml-latest-small" else ("6", "3.5")
        zero = "0.0" if name == "ml-latest-small" else "0"
        for kind, fields, cut, problem in [
            ("rating_above_scale", ["7", "11", too_high, "978300760"], False, f"rating {too_high!r} is not {scale}"),
            ("rating_zero", ["7", "11", zero, "978300760"], False, f"rating {zero!r} is not {scale}"),
            ("rating_off_step", ["7", "11", not_a_step, "978300760"], False, f"rating {not_a_step!r} is not {scale}"),
            ("rating_negative", ["7", "11", "-4", "978300760"], False, "rating '-4' is negative"),
            ("rating_empty", ["7", "11", "", "978300760"], False, "rating is empty"),
            ("user_not_a_number", ["u7", "11", ok, "978300760"], False, "user_id 'u7' is not a number"),
            ("user_zero", ["0", "11", ok, "978300760"], False, "user_id '0' is not a positive whole number"),
            ("item_negative", ["7", "-11", ok, "978300760"], False, "item_id '-11' is negative"),
            ("item_fraction", ["7", "11.5", ok, "978300760"], False, "item_id '11.5' is not a positive whole number"),
            ("timestamp_not_a_number", ["7", "11", ok, "2000-12-31"], False, "timestamp '2000-12-31' is not a number"),
            ("timestamp_fraction", ["7", "11", ok, "978300760.5"], False,
             "timestamp '978300760.5' is not a whole number of seconds"),
            ("too_many_fields", ["7", "11", ok, "978300760", "9"], False, f"expected 4 {sep_name}-separated fields, found 5"),
            ("too_few_fields", ["7", "11", "978300760"], False, f"expected 4 {sep_name}-separated fields, found 3"),
            ("blank_line", None, False, "blank line"),
            ("cut_after_rating", ["7", "11", ok], True, f"expected 4 {sep_name}-separated fields, found 3"),
            ("cut_after_separator", ["7", "11", ok, ""], True, "timestamp is empty"),
            ("cut_in_timestamp", ["7", "11", ok, "9783"], True,
             "timestamp '9783' is shorter than every other timestamp"),
        ]:
            cases.append(pytest.param(name, fields, cut, problem, id=f"{name}-{kind}"))
    return cases


@pytest.mark.parametrize("name, fields, cut, problem", rating_cases())
def test_bad_ratings_line_names_file_and_line(tmp_path, name, fields, cut, problem):
    root = WRITERS[name](tmp_path / name)
    file, sep, _, header, _ = RATINGS[name]
    line_no = header + 2  # the second rating
    put_line(root / file, line_no, "" if fields is None else sep.join(fields), ENCODING[name], cut=cut)
    with pytest.raises(DataError) as err:
        load(name, root)
    assert str(err.value) == f"{root / file}: line {line_no}: {CUT if cut else ''}{problem}"


GENRES_RULE = "is not a '|'-separated list of the archive's genres"


@pytest.mark.parametrize("name, file, line_no, line, cut, problem", [
    pytest.param("ml-100k", "u.item", 2, U_ITEM_ROW.format(id=302, title="L.A.").replace("|0|0|0|0|0|0|0", "|0|0|0|0|0|2|0", 1),
                 False, "Comedy flag '2' is not 0 or 1", id="u.item-flag"),
    pytest.param("ml-100k", "u.item", 3, U_ITEM_ROW.format(id=377, title="Heavyweights").replace("01-Jan-1995", "1995-01-01"),
                 False, "release_date '1995-01-01' is not a date like 01-Jan-1995 (or empty)", id="u.item-date"),
    pytest.param("ml-100k", "u.item", 1, U_ITEM_ROW.format(id="x242", title="Kolya"), False,
                 "item_id 'x242' is not a number", id="u.item-id"),
    pytest.param("ml-100k", "u.item", 2, U_ITEM_ROW.format(id=302, title=""), False, "title is empty", id="u.item-title"),
    pytest.param("ml-100k", "u.item", 2, U_ITEM_ROW.format(id=302, title="L.A.").rsplit("|", 1)[0], False,
                 "expected 24 '|'-separated fields, found 23", id="u.item-fields"),
    pytest.param("ml-100k", "u.item", 3, U_ITEM_ROW.format(id=242, title="Kolya again"), False,
                 "item_id 242 is listed twice (first on line 1)", id="u.item-duplicate"),
    pytest.param("ml-100k", "u.item", 4, "1|Café au", True, "expected 24 '|'-separated fields, found 2", id="u.item-cut"),
    pytest.param("ml-100k", "u.user", 2, "186|x|F|executive|00000", False, "age 'x' is not a number", id="u.user-age"),
    pytest.param("ml-100k", "u.user", 2, "186|0|F|executive|00000", False,
                 "age '0' is not an age in years (1 to 99)", id="u.user-age-zero"),
    pytest.param("ml-100k", "u.user", 2, "186|39|f|executive|00000", False, "gender 'f' is not M or F", id="u.user-gender"),
    pytest.param("ml-100k", "u.user", 1, "22|25|M|pilot|40206", False,
                 "occupation 'pilot' is not one of the 21 occupations of u.occupation", id="u.user-occupation"),
    pytest.param("ml-100k", "u.user", 2, "-186|39|F|executive|00000", False, "user_id '-186' is negative", id="u.user-id"),
    pytest.param("ml-100k", "u.user", 2, "186|39|F|executive|", False, "zip_code is empty", id="u.user-zip"),
    pytest.param("ml-100k", "u.user", 3, "196|49|M|wri", True, "expected 5 '|'-separated fields, found 4", id="u.user-cut"),
    pytest.param("ml-1m", "movies.dat", 2, "661::James::Animation|Kids", False,
                 f"genres 'Animation|Kids' {GENRES_RULE}", id="movies.dat-genre"),
    pytest.param("ml-1m", "movies.dat", 1, "1193::::Drama", False, "title is empty", id="movies.dat-title"),
    pytest.param("ml-1m", "movies.dat", 3, "2::Ménage (1986)::Com", True,
                 f"genres 'Com' {GENRES_RULE}", id="movies.dat-cut-genre"),
    pytest.param("ml-1m", "movies.dat", 3, "2::Ménage (19", True, "expected 3 '::'-separated fields, found 2",
                 id="movies.dat-cut"),
    pytest.param("ml-1m", "movies.dat", 3, "661::Again (1996)::Drama", False,
                 "item_id 661 is listed twice (first on line 2)", id="movies.dat-duplicate"),
    pytest.param("ml-1m", "users.dat", 2, "2::M::20::16::70072", False,
                 "age '20' is not one of the age codes 1, 18, 25, 35, 45, 50, 56", id="users.dat-age"),
    pytest.param("ml-1m", "users.dat", 2, "2::M::56::21::70072", False,
                 "occupation '21' is not an occupation code 0..20", id="users.dat-occupation"),
    pytest.param("ml-1m", "users.dat", 1, "1::W::1::10::48067", False, "gender 'W' is not M or F", id="users.dat-gender"),
    pytest.param("ml-1m", "users.dat", 2, "1::M::56::16::70072", False,
                 "user_id 1 is listed twice (first on line 1)", id="users.dat-duplicate"),
    pytest.param("ml-1m", "users.dat", 2, "2::M::56::16", True, "expected 5 '::'-separated fields, found 4",
                 id="users.dat-cut"),
    pytest.param("ml-latest-small", "movies.csv", 4, "3,Grumpier Old Men (1995),Comedy|Romcom", False,
                 f"genres 'Comedy|Romcom' {GENRES_RULE}", id="movies.csv-genre"),
    pytest.param("ml-latest-small", "movies.csv", 2, "1.0,Toy Story (1995),Comedy", False,
                 "item_id '1.0' is not a positive whole number", id="movies.csv-id"),
    pytest.param("ml-latest-small", "movies.csv", 3, '11,"American President, The (1995),Comedy', False,
                 "malformed quoted field (unexpected end of data)", id="movies.csv-quote"),
    pytest.param("ml-latest-small", "movies.csv", 5, "1,Toy Story again (1995),Comedy", False,
                 "item_id 1 is listed twice (first on line 2)", id="movies.csv-duplicate"),
    pytest.param("ml-latest-small", "movies.csv", 3, '11,"American President, The (19', True,
                 "malformed quoted field (unexpected end of data)", id="movies.csv-cut"),
    pytest.param("ml-latest-small", "links.csv", 2, "1,tt0114709,862", False,
                 "imdb_id 'tt0114709' is not a whole number", id="links.csv-imdb"),
    pytest.param("ml-latest-small", "links.csv", 3, "11,0112346,n/a", False,
                 "tmdb_id 'n/a' is not a whole number or empty", id="links.csv-tmdb"),
    pytest.param("ml-latest-small", "links.csv", 4, "3,0113228", False, "expected 3 comma-separated fields, found 2",
                 id="links.csv-fields"),
    pytest.param("ml-latest-small", "tags.csv", 2, "2,11,,1445714994", False, "tag is empty", id="tags.csv-tag"),
    pytest.param("ml-latest-small", "tags.csv", 3, "2,1,artsy,yesterday", False, "timestamp 'yesterday' is not a number",
                 id="tags.csv-timestamp"),
    pytest.param("ml-latest-small", "tags.csv", 2, "-2,11,funny,1445714994", False, "user_id '-2' is negative",
                 id="tags.csv-user"),
    pytest.param("ml-latest-small", "tags.csv", 4, "1,3,High", True, "expected 4 comma-separated fields, found 3",
                 id="tags.csv-cut"),
])
def test_bad_metadata_line_names_file_and_line(tmp_path, name, file, line_no, line, cut, problem):
    root = WRITERS[name](tmp_path / name)
    put_line(root / file, line_no, line, ENCODING[name], cut=cut)
    with pytest.raises(DataError) as err:
        load(name, root)
    assert str(err.value) == f"{root / file}: line {line_no}: {CUT if cut else ''}{problem}"


def frames(ds) -> dict:
    """Every table of a dataset, by name, for comparing two loads."""
    out = {"interactions": ds.interactions, "items": ds.items, "users": ds.users}
    out.update({f"extras.{k}": v for k, v in ds.extras.items()})
    return {k: v for k, v in out.items() if v is not None}


EXPECTED = {  # rows and dtypes of every table the tiny fixtures load into
    "ml-100k": {"interactions": (5, ["int64", "int64", "int64", "float32"]),
                "items": (4, ["int64", "str", "str", "str", "str"]),
                "users": (3, ["int64", "int64", "str", "str", "str"])},
    "ml-1m": {"interactions": (3, ["int64", "int64", "int64", "float32"]),
              "items": (3, ["int64", "str", "str"]),
              "users": (2, ["int64", "str", "int64", "int64", "str"])},
    "ml-latest-small": {"interactions": (4, ["int64", "int64", "int64", "float32"]),
                        "items": (4, ["int64", "str", "str", "str", "str"]),
                        "extras.tags": (3, ["int64", "int64", "str", "int64"])},
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_valid_files_load_with_expected_rows_and_dtypes(tmp_path, name):
    got = {k: (len(df), [str(t) for t in df.dtypes]) for k, df in frames(load(name, WRITERS[name](tmp_path / name))).items()}
    assert got == EXPECTED[name]


def test_valid_values_come_through_unchanged(tmp_path):
    ds = load("ml-latest-small", write_small(tmp_path / "small"))
    assert ds.interactions["rating"].tolist() == [4.0, 0.5, 5.0, 3.5]
    items = ds.items.set_index("item_id")
    assert items.loc[11, "title"] == "American President, The (1995)"  # quoted comma
    assert items.loc[4, "genres"] == "(no genres listed)"
    assert (items.loc[3, "tmdb_id"], items.loc[1, "imdb_id"]) == ("", "0114709")  # empty and leading zero kept
    assert ds.extras["tags"]["tag"].tolist() == ["funny", '"artsy"', "Highly quotable"]
    users = load_ml_1m(write_ml1m(tmp_path / "1m")).users
    assert users["age"].tolist() == [1, 56] and users["occupation"].tolist() == [10, 16]


@pytest.mark.parametrize("name", list(WRITERS))
def test_complete_last_line_without_newline_loads_identically(tmp_path, name):
    """Only an incomplete last line counts as cut: every file of the format, newline dropped."""
    want = frames(load(name, WRITERS[name](tmp_path / "with")))
    root = WRITERS[name](tmp_path / "without")
    for path in root.iterdir():
        path.write_bytes(path.read_bytes().rstrip(b"\r\n"))
    got = frames(load(name, root))
    assert got.keys() == want.keys()
    for key in want:
        pd.testing.assert_frame_equal(got[key], want[key])


def test_line_endings_and_corrupt_bytes(tmp_path):
    """CRLF loads like LF; a lone CR or a zero-filled tail is reported on its own line."""
    crlf = write_ml100k(tmp_path / "crlf")
    for path in crlf.iterdir():
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    want, got = frames(load_ml_100k(write_ml100k(tmp_path / "lf"))), frames(load_ml_100k(crlf))
    for key in want:
        pd.testing.assert_frame_equal(got[key], want[key])
    data = crlf / "u.data"
    data.write_bytes(data.read_bytes().replace(b"\r\n", b"\r", 3).replace(b"\r", b"\r\n", 2))
    with pytest.raises(DataError) as err:
        load_ml_100k(crlf)
    assert str(err.value) == rf"{data}: line 3: stray carriage return (lines must end with \n or \r\n)"
    data.write_bytes(b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n" + b"\x00" * 20)  # zero-filled tail
    with pytest.raises(DataError) as err:
        load_ml_100k(crlf)
    assert str(err.value) == f"{data}: line 3: contains NUL bytes; the file is corrupt"


def test_real_ml_latest_small_bad_line_deep_in_the_file(small_copy):
    (small_copy / "MD5SUMS").unlink()
    ratings = small_copy / "ratings.csv"
    lines = ratings.read_bytes().split(b"\r\n")
    assert lines[54_320] == b"357,2396,3.0,1348610326"  # line 54321 of the file
    lines[54_320] = b"357,2396,6.0,1348610326"
    ratings.write_bytes(b"\r\n".join(lines))
    with pytest.raises(DataError) as err:
        load_ml_latest_small(small_copy)
    assert str(err.value) == f"{ratings}: line 54321: rating '6.0' is not on the 0.5..5.0 scale in steps of 0.5"


# ------------------------------------------------------------------- downloads


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return path


@pytest.fixture()
def archive(tmp_path):
    src = write_ml100k(tmp_path / "src" / "ml-100k")
    path = make_zip(tmp_path / "ml-100k.zip", {f"ml-100k/{p.name}": p.read_bytes() for p in src.iterdir()})
    spec = {"url": path.as_uri(), "filename": "ml-100k.zip", "folder": "ml-100k",
            "md5": hashlib.md5(path.read_bytes()).hexdigest()}
    return path, spec


def no_fetch(url, out):
    raise AssertionError("must not download a verified archive again")


def test_download_file_url_then_cache_hit(tmp_path, archive):
    path, spec = archive
    cache = tmp_path / "cache"
    got = dl.download("ml-100k", cache, spec=spec)
    assert got == cache / "ml-100k.zip" and got.read_bytes() == path.read_bytes()
    assert dl.download("ml-100k", cache, spec=spec, fetch=no_fetch) == got
    folder = dl.ensure("ml-100k", cache, spec=spec, fetch=no_fetch)
    assert folder == cache / "ml-100k" and len(load("ml-100k", folder).interactions) == 5
    assert sorted(p.name for p in cache.iterdir()) == ["ml-100k", "ml-100k.zip"]  # no temp files


def test_bad_checksum_leaves_cache_intact(tmp_path, archive):
    path, spec = archive
    cache = tmp_path / "cache"
    cache.mkdir()
    cached = cache / "ml-100k.zip"
    cached.write_bytes(b"an older archive the user already has")
    before = cached.read_bytes()
    bad = dict(spec, md5="0" * 32)
    with pytest.raises(DataError) as err:
        dl.download("ml-100k", cache, spec=bad)
    assert str(err.value) == (
        f"ml-100k.zip: downloaded from {spec['url']} but md5 mismatch "
        f"(expected {'0' * 32}, got {spec['md5']}); cache left unchanged"
    )
    assert cached.read_bytes() == before
    assert [p.name for p in cache.iterdir()] == ["ml-100k.zip"]


def test_failed_fetch_overwrites_nothing(tmp_path, archive):
    path, spec = archive
    cache = tmp_path / "cache"
    good = dl.download("ml-100k", cache, spec=spec)
    before = good.read_bytes()
    good.write_bytes(before[:100])  # now corrupt: a new download will be attempted

    def half_then_fail(url, out):
        out.write(before[: len(before) // 2])
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(DataError, match=r"^ml-100k\.zip: download from .* failed: connection reset by peer; cache left unchanged$"):
        dl.download("ml-100k", cache, spec=spec, fetch=half_then_fail)
    assert good.read_bytes() == before[:100]
    assert [p.name for p in cache.iterdir()] == ["ml-100k.zip"]
    assert dl.download("ml-100k", cache, spec=spec).read_bytes() == before  # a good download repairs it


def test_member_checksums_for_archives_without_a_published_md5(tmp_path):
    good = make_zip(tmp_path / "good.zip", {"ml-latest-small/ratings.csv": b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n"})
    want = hashlib.md5(b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n").hexdigest()
    spec = {"url": good.as_uri(), "filename": "ml-latest-small.zip", "folder": "ml-latest-small", "md5": None,
            "members_md5": {"ml-latest-small/ratings.csv": want}}
    assert dl.ensure("ml-latest-small", tmp_path / "cache", spec=spec).joinpath("ratings.csv").is_file()
    bad = make_zip(tmp_path / "bad.zip", {"ml-latest-small/ratings.csv": b"userId,movieId,rating,timestamp\n"})
    with pytest.raises(DataError, match=r"ml-latest-small/ratings\.csv: md5 mismatch"):
        dl.download("ml-latest-small", tmp_path / "cache2", spec=dict(spec, url=bad.as_uri()))
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a valid zip archive"):
        dl.download("ml-latest-small", tmp_path / "cache3", spec=dict(spec, url=(tmp_path / "junk.zip").as_uri()))


def test_load_can_download_into_cache(tmp_path, archive, monkeypatch):
    path, spec = archive
    monkeypatch.setattr(dl, "source", lambda name: spec)
    monkeypatch.setattr(data, "candidate_roots", lambda name: [tmp_path / "nowhere"])
    with pytest.raises(DataError, match="not found"):
        load("ml-100k")
    ds = load("ml-100k", download=True, cache_dir=tmp_path / "cache")
    assert len(ds.interactions) == 5 and (tmp_path / "cache" / "ml-100k.zip").is_file()


def test_unknown_download_source():
    with pytest.raises(DataError, match=r"^ml-20m: no download source known"):
        dl.source("ml-20m")
    assert json.loads(dl.SOURCES_FILE.read_text())  # valid JSON
