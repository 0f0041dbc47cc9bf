"""MovieLens loaders, dataset resolution, one-line errors, and the verified download cache."""
from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
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
    ratings.write_bytes(ratings.read_bytes().rstrip(b"\n")[:-12])  # cut the last row mid-way
    with pytest.raises(DataError, match=r"ratings\.csv: line 100837: timestamp is missing \(1 bad row; truncated or corrupt file\?\)"):
        load_ml_latest_small(small_copy)


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
    with pytest.raises(DataError, match=r"ratings\.csv: not utf-8 text"):
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
    with pytest.raises(DataError, match=r"u\.data: line 2: rating is 'x', not a number"):
        load_ml_100k(root)
    (root / "u.data").unlink()
    with pytest.raises(DataError) as err:
        load("ml-100k", root)
    assert str(err.value) == f"{root / 'u.data'}: file not found"

    root = write_ml1m(tmp_path / "ml-1m")
    (root / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::97830")  # truncated
    assert load_ml_1m(root).interactions["timestamp"].tolist()[-1] == 97830  # still a number...
    (root / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3")  # ...but this is not
    with pytest.raises(DataError, match=r"ratings\.dat: line 2: timestamp is missing"):
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
