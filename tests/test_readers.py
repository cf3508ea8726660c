"""Readers: each format on small hand-written files, and the errors for malformed ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codigem_lab.data import readers
from codigem_lab.errors import DataError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def needs_shared(test):
    """Mark a test that reads the shared MovieLens copies; skip it where they are absent."""
    skip = pytest.mark.skipif(
        not SHARED.is_dir(), reason=f"shared MovieLens copies not found at {SHARED}"
    )
    return pytest.mark.shared_data(skip(test))


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- each format ------------------------------------------------------------------------------


def test_read_u_data(tmp_path: Path) -> None:
    path = write(
        tmp_path, "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t242\t4\t1\n"
    )
    df = readers.read_u_data(path)
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert df.dtypes.to_dict() == {
        "user": np.int64,
        "item": np.int64,
        "rating": np.float32,
        "timestamp": np.int64,
    }
    assert df["user"].tolist() == [196, 186, 196]
    assert df["rating"].tolist() == [3.0, 3.0, 4.0]
    assert len(df) == 3  # the duplicate (196, 242) pair is kept


def test_read_ml1m_dat(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n")
    df = readers.read_ml1m_dat(path)
    assert df.values.tolist() == [[1, 1193, 5, 978300760], [1, 661, 3, 978302109]]
    assert df["rating"].dtype == np.float32 and df["timestamp"].dtype == np.int64


def test_read_movielens_csv_crlf(tmp_path: Path) -> None:
    text = "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,3.5,964981247\r\n"
    df = readers.read_movielens_csv(write(tmp_path, "ratings.csv", text))
    assert df["item"].tolist() == [1, 3]
    assert df["rating"].tolist() == [4.0, 3.5]
    assert df["timestamp"].tolist() == [964982703, 964981247]


def test_read_movielens_csv_wrong_header(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.csv", "user,movie,rating,ts\n1,1,4.0,9\n")
    with pytest.raises(DataError, match=r"ratings\.csv: line 1: expected the header"):
        readers.read_movielens_csv(path)


def test_read_amazon_csv_keeps_string_ids(tmp_path: Path) -> None:
    text = "AKM1MP6P0OYPR,0132793040,5.0,1365811200\nA2CX7LUOHB2NDG,0321732944,5.0,1341100800\n"
    df = readers.read_amazon_csv(write(tmp_path, "ratings_Electronics.csv", text))
    assert df["item"].tolist() == ["0132793040", "0321732944"]  # leading zero kept
    assert df["user"].iloc[0] == "AKM1MP6P0OYPR"
    assert df["rating"].dtype == np.float32 and df["timestamp"].dtype == np.int64


# --- malformed files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "text", "line", "what"),
    [
        (readers.read_u_data, "1\t2\t3\t4\n1\t2\tx\t4\n", 2, "rating is 'x'"),
        (readers.read_u_data, "1\t2\t3\t4\n1\t2\t3\t4\t5\n", 2, "5 fields instead of 4"),
        (readers.read_u_data, "1\t2\t3\t4\n\n1\t2\t\t4\n", 3, "rating is ''"),
        (readers.read_u_data, "1\t2\t3\t4\n1\tb\t3\t4\n", 2, "item is 'b'"),
        (readers.read_ml1m_dat, "1::2::3::4\n1::2::3::4::5\n", 2, "5 fields instead of 4"),
        (readers.read_ml1m_dat, "1::2::3::4\n1:2::3::4\n", 2, "3 fields instead of 4"),
        (readers.read_ml1m_dat, "1::2::3::4\n1::2::nan::4\n", 2, "rating is 'nan'"),
        (readers.read_movielens_csv, "userId,movieId,rating,timestamp\n1,2,3,4\n1,2,3\n", 3, "3"),
        (readers.read_amazon_csv, "A,B,5.0,1\nA,,4.0,2\n", 2, "item is ''"),
    ],
)
def test_malformed_line_is_named(tmp_path: Path, reader, text: str, line: int, what: str) -> None:
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(DataError) as info:
        reader(path)
    message = str(info.value)
    assert str(path) in message
    assert f"line {line}:" in message
    assert what in message
    assert "expected" in message


def test_truncated_file(tmp_path: Path) -> None:
    path = write(tmp_path, "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t37")
    with pytest.raises(DataError, match=r"line 3: found 2 fields instead of 4"):
        readers.read_u_data(path)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "ratings.dat", text)
    with pytest.raises(DataError, match=r"ratings\.dat is empty"):
        readers.read_ml1m_dat(path)


def test_header_only(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.csv", "userId,movieId,rating,timestamp\n")
    with pytest.raises(DataError, match=r"no rating rows after line 1"):
        readers.read_movielens_csv(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        readers.read_u_data(tmp_path / "nope.data")


# --- generic csv ------------------------------------------------------------------------------


def test_csv_with_aliases(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "userId,movieId,rating,timestamp\n1,10,4.5,100\n2,20,3,200\n")
    df = readers.read_ratings_csv(path)
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert df["user"].dtype == np.int64 and df["item"].tolist() == [10, 20]
    assert df["rating"].dtype == np.float32


@pytest.mark.parametrize(
    ("sep", "header"),
    [
        ("::", "user_id::item_id::rating"),
        ("\t", "UserID\tmovie_id\trating"),
        (";", "user;item;rating"),
    ],
)
def test_csv_delimiters(tmp_path: Path, sep: str, header: str) -> None:
    rows = [header, sep.join(["1", "5", "4"]), sep.join(["2", "6", "2.5"])]
    df = readers.read_ratings_csv(write(tmp_path, "r.txt", "\n".join(rows) + "\n"))
    assert list(df.columns) == ["user", "item", "rating"]
    assert df.values.tolist() == [[1, 5, 4.0], [2, 6, 2.5]]


def test_csv_explicit_columns_and_extra_fields(tmp_path: Path) -> None:
    text = "who,what,stars,when,note\nu1,i1,5,10,x\nu2,i1,1,11,y\n"
    path = write(tmp_path, "r.csv", text)
    df = readers.read_ratings_csv(path, "who", "what", "stars", "when")
    assert df.values.tolist() == [["u1", "i1", 5.0, 10], ["u2", "i1", 1.0, 11]]


def test_csv_implicit_feedback(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "user,item\n1,2\n3,4\n")
    with pytest.raises(DataError, match="rating_col=None"):
        readers.read_ratings_csv(path)
    df = readers.read_ratings_csv(path, rating_col=None)
    assert df["rating"].dtype == np.float32 and df["rating"].tolist() == [1.0, 1.0]


def test_csv_without_header_by_position(tmp_path: Path) -> None:
    df = readers.read_ratings_csv(write(tmp_path, "r.csv", "1,2,3.5,99\n4,5,1,98\n"))
    assert df.values.tolist() == [[1, 2, 3.5, 99], [4, 5, 1.0, 98]]


def test_csv_bad_rating_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "user,item,rating\n1,2,3\n1,3,good\n")
    with pytest.raises(DataError, match=r"r\.csv: line 3: rating is 'good'"):
        readers.read_ratings_csv(path)


def test_csv_missing_named_column(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "user,item,rating\n1,2,3\n")
    with pytest.raises(DataError, match=r"no rating column; looked for score"):
        readers.read_ratings_csv(path, rating_col="score")


def test_sniff_delimiter() -> None:
    assert readers.sniff_delimiter("1::2::3") == "::"
    assert readers.sniff_delimiter("a\tb,c\td") == "\t"
    with pytest.raises(DataError, match="field separator"):
        readers.sniff_delimiter("justone")


# --- item titles ------------------------------------------------------------------------------


def test_item_titles(tmp_path: Path) -> None:
    u_item = write(
        tmp_path, "u.item", "1|Toy Story (1995)|01-Jan-1995||x|0\n2|Café (1996)|x||y|1\n", "latin-1"
    )
    dat = write(
        tmp_path,
        "movies.dat",
        "1::Toy Story (1995)::Animation\n2::Café: Le Film::Drama\n",
        "latin-1",
    )
    csv_ = write(
        tmp_path,
        "movies.csv",
        'movieId,title,genres\n1,Toy Story (1995),A\n2,"Café, Le (1996)",B\n',
    )
    assert readers.read_item_titles(u_item).to_dict() == {1: "Toy Story (1995)", 2: "Café (1996)"}
    assert readers.read_item_titles(dat)[2] == "Café: Le Film"
    assert readers.read_item_titles(csv_)[2] == "Café, Le (1996)"


# --- the shared copies of real files ----------------------------------------------------------


@needs_shared
def test_shared_ml1m_partial_dat() -> None:
    df = readers.read_ml1m_dat(SHARED / "ml-1m" / "ratings.first487650.dat")
    assert len(df) == 487_650
    assert df["user"].max() == 2999


@needs_shared
def test_shared_ml1m_csv_without_timestamps() -> None:
    df = readers.read_ratings_csv(SHARED / "ml-1m" / "ratings_no_timestamp.csv")
    assert len(df) == 1_000_209
    assert list(df.columns) == ["user", "item", "rating"]
    assert df["user"].nunique() == 6040 and df["item"].nunique() == 3706
