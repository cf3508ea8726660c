"""Readers for rating files, one per on-disk format, each returning ``user``, ``item``, ``rating``
(float32)[, ``timestamp`` (int64)]; a DataError names a bad file's first bad line (docs/data.md)."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from codigem_lab.errors import DataError

USER, ITEM, RATING, TIMESTAMP = "user", "item", "rating", "timestamp"

# Field kinds: how a field is parsed and checked.
INT, FLOAT, STR, ID, SKIP = "int", "float", "str", "id", "skip"
_DTYPES: dict[str, object] = {INT: "int64", FLOAT: "float32", STR: str}
_EXPECTED = {
    INT: "an integer",
    FLOAT: "a finite number",
    STR: "a non-empty value",
    ID: "a non-empty id",
}
_PARSE_ERRORS = (ValueError, OverflowError, pd.errors.ParserError)

USER_ALIASES = ("user", "user_id", "userid")
ITEM_ALIASES = ("item", "item_id", "itemid", "movie_id", "movieid")
RATING_ALIASES = ("rating",)
TIMESTAMP_ALIASES = ("timestamp",)
DELIMITERS = ("\t", ",", ";", "|")


@dataclass(frozen=True)
class _Layout:
    """What one delimited format looks like: separator, fields (name, kind), header, encoding."""

    sep: str
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    description: str
    header: tuple[str, ...] | None = None  # exact header expected on the first line
    has_header: bool = False
    encoding: str = "latin-1"

    @property
    def used(self) -> list[str]:
        """Output columns, in file order (fields of kind SKIP are dropped)."""
        return [n for n, k in zip(self.names, self.kinds, strict=True) if k != SKIP]


#: The fields of every MovieLens ratings file: integer ids, a rating, a unix time.
_MOVIELENS_FIELDS = {"names": (USER, ITEM, RATING, TIMESTAMP), "kinds": (INT, INT, FLOAT, INT)}

_U_DATA = _Layout(
    sep="\t",
    **_MOVIELENS_FIELDS,
    description="4 tab-separated fields: user id, item id, rating, unix timestamp (MovieLens u.data)",
)
_ML1M_DAT = _Layout(
    sep="::",
    **_MOVIELENS_FIELDS,
    description="UserID::MovieID::Rating::Timestamp (MovieLens ratings.dat)",
)
_MOVIELENS_CSV = _Layout(
    sep=",",
    **_MOVIELENS_FIELDS,
    description="header userId,movieId,rating,timestamp then 4 comma-separated fields per line",
    header=("userId", "movieId", "rating", "timestamp"),
    has_header=True,
)
_AMAZON_CSV = _Layout(
    sep=",",
    names=(USER, ITEM, RATING, TIMESTAMP),
    kinds=(STR, STR, FLOAT, INT),
    description="no header; 4 comma-separated fields: user, item, rating, unix timestamp",
)


def read_u_data(path: str | os.PathLike) -> pd.DataFrame:
    """Read MovieLens-100K ``u.data`` (tab-separated user, item, rating, timestamp)."""
    return _read_layout(Path(path), _U_DATA)


def read_ml1m_dat(path: str | os.PathLike) -> pd.DataFrame:
    """Read MovieLens-1M ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``), fast."""
    return _read_layout(Path(path), _ML1M_DAT)


def read_movielens_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a MovieLens ``ratings.csv`` (ML-20M, ml-latest-small: header, LF or CRLF lines)."""
    return _read_layout(Path(path), _MOVIELENS_CSV)


def read_amazon_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read an Amazon ratings-only csv (no header: user, item, rating, timestamp; string ids)."""
    return _read_layout(Path(path), _AMAZON_CSV)


def read_ratings_csv(
    path: str | os.PathLike,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = "rating",
    timestamp_col: str | None = None,
) -> pd.DataFrame:
    """Read any local ratings table: delimiter sniffed, columns found by name or common alias, or
    by position without a header; ``rating_col=None`` is implicit feedback (every rating 1.0)."""
    path = _existing_file(path)
    lineno, first = _first_line(path, "utf-8-sig")
    sep = sniff_delimiter(first, path, lineno)
    fields = [f.strip() for f in _split_line(first, sep)]
    has_header = _is_header(fields, (user_col, item_col, rating_col, timestamp_col))
    if has_header:
        roles = _roles_from_header(
            path, lineno, fields, user_col, item_col, rating_col, timestamp_col
        )
    else:
        roles = _roles_by_position(path, lineno, len(fields), rating_col, timestamp_col)
    layout = _generic_layout(sep, fields, roles, has_header)
    df = _read_layout(path, layout)
    if rating_col is None:
        df[RATING] = np.ones(len(df), dtype=np.float32)
    for col in (USER, ITEM):
        df[col] = _normalise_ids(df[col])
    order = [USER, ITEM, RATING] + ([TIMESTAMP] if TIMESTAMP in df.columns else [])
    return df[order]


def sniff_delimiter(line: str, path: str | os.PathLike = "", lineno: int = 1) -> str:
    """The field separator of a table, judged from one line: ``::``, tab, ``,``, ``;`` or ``|``."""
    if "::" in line:
        return "::"
    counts = {sep: line.count(sep) for sep in DELIMITERS}
    best = max(counts, key=lambda sep: counts[sep])
    if counts[best] == 0:
        raise DataError(
            f"{path}: line {lineno}: cannot tell the field separator of {line.strip()!r}; "
            "expected fields separated by ',', tab, ';', '|' or '::'"
        )
    return best


def read_item_titles(path: str | os.PathLike) -> pd.Series:
    """Read item titles (item id -> title) from ``u.item``, ``movies.dat`` or ``movies.csv``."""
    path = _existing_file(path)
    readers = {".item": _read_u_item_titles, ".dat": _read_movies_dat_titles}
    return readers.get(path.suffix, _read_movies_csv_titles)(path)


def _read_u_item_titles(path: Path) -> pd.Series:
    """Read ML-100K ``u.item`` titles (latin-1, ``|``-separated, no header)."""
    try:
        df = pd.read_csv(
            path,
            sep="|",
            header=None,
            usecols=[0, 1],
            names=["item", "title"],
            dtype={"item": "int64", "title": str},
            encoding="latin-1",
            quoting=csv.QUOTE_NONE,
            keep_default_na=False,
            engine="c",
        )
    except _PARSE_ERRORS as exc:
        raise DataError(f"{path}: cannot read item titles: {exc}") from exc
    return _titles(df)


def _read_movies_dat_titles(path: Path) -> pd.Series:
    """Read ML-1M ``movies.dat`` titles (latin-1, ``MovieID::Title::Genres``)."""
    ids, titles = [], []
    with open(path, encoding="latin-1", newline="") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("::")
            if len(parts) < 3 or not parts[0].strip().isdigit():
                raise DataError(
                    f"{path}: line {lineno}: expected MovieID::Title::Genres, found {line!r}"
                )
            ids.append(int(parts[0]))
            titles.append("::".join(parts[1:-1]))
    return _titles(pd.DataFrame({"item": np.array(ids, dtype=np.int64), "title": titles}))


def _read_movies_csv_titles(path: Path) -> pd.Series:
    """Read MovieLens ``movies.csv`` titles (utf-8, header movieId,title,genres)."""
    try:
        df = pd.read_csv(path, usecols=["movieId", "title"], dtype={"movieId": "int64"})
    except _PARSE_ERRORS as exc:
        raise DataError(f"{path}: cannot read item titles (movieId,title,...): {exc}") from exc
    return _titles(df.rename(columns={"movieId": "item"}))


def _titles(df: pd.DataFrame) -> pd.Series:
    return df.set_index("item")["title"].astype(str).rename("title")


def _existing_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise DataError(f"{path} {what}; expected a ratings file")
    return path


def _first_line(path: Path, encoding: str) -> tuple[int, str]:
    """The 1-based number and text of the first non-blank line; DataError when there is none."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.strip():
                return lineno, line.rstrip("\r\n")
    raise DataError(f"{path} is empty (no non-blank line); expected a table of ratings")


def _read_layout(path: Path, layout: _Layout) -> pd.DataFrame:
    """Read a file of a known layout, checking it; DataError with the first bad line if needed."""
    path = _existing_file(path)
    lineno, first = _first_line(path, layout.encoding)
    skip = 0
    if layout.has_header:
        _check_header(path, lineno, first, layout)
        skip = lineno
    error: Exception | None = None
    try:
        df = _read_fast(path, layout, skip)
    except _PARSE_ERRORS as exc:
        df, error = None, exc
    if df is None or not _values_ok(df, layout):
        df = _read_slow_or_raise(path, layout, skip, error)
    if df.empty:
        raise DataError(
            f"{path} has no rating rows after line {lineno}; expected {layout.description}"
        )
    return df if list(df.columns) == layout.used else df[layout.used]


def _check_header(path: Path, lineno: int, line: str, layout: _Layout) -> None:
    if layout.header is None:
        return
    found = tuple(f.strip() for f in _split_line(line, layout.sep))
    if found != layout.header:
        raise DataError(
            f"{path}: line {lineno}: expected the header {layout.sep.join(layout.header)!r}, "
            f"found {line.strip()!r}"
        )


def _read_options(layout: _Layout, skip: int) -> dict:
    dtype = {n: _DTYPES[k] for n, k in zip(layout.names, layout.kinds, strict=True) if k in _DTYPES}
    return dict(
        header=None,
        skiprows=skip,
        dtype=dtype,
        encoding=layout.encoding,
        encoding_errors="replace",
        keep_default_na=False,
        na_values=[""],
        skip_blank_lines=True,
    )


def _read_fast(path: Path, layout: _Layout, skip: int) -> pd.DataFrame | None:
    """pandas C-engine read with explicit dtypes; None when a ``::`` file holds ':' in a field."""
    options = _read_options(layout, skip) | {"engine": "c", "low_memory": ID not in layout.kinds}
    if layout.sep != "::":
        return pd.read_csv(path, sep=layout.sep, names=list(layout.names), **options)
    gaps = [f"_gap{i}" for i in range(len(layout.names) - 1)]
    physical = [layout.names[0]]
    for gap, name in zip(gaps, layout.names[1:], strict=True):
        physical += [gap, name]
    options["dtype"].update(dict.fromkeys(gaps, "float32"))
    df = pd.read_csv(path, sep=":", names=physical, **options)
    if df[gaps].notna().to_numpy().any():
        return None
    return df.drop(columns=gaps)


def _read_slow_or_raise(
    path: Path, layout: _Layout, skip: int, error: Exception | None
) -> pd.DataFrame:
    """Name the first bad line; if every line fits, read a ``::`` file with the exact engine."""
    found = _first_bad_line(path, layout)
    if found is not None:
        lineno, problem = found
        raise DataError(f"{path}: line {lineno}: {problem}; expected {layout.description}")
    if layout.sep == "::":
        options = _read_options(layout, skip) | {"engine": "python"}
        try:
            df = pd.read_csv(path, sep="::", names=list(layout.names), **options)
        except _PARSE_ERRORS as exc:
            error = exc
        else:
            if _values_ok(df, layout):
                return df
    detail = f" ({error})" if error is not None else ""
    raise DataError(f"{path}: cannot parse the file{detail}; expected {layout.description}")


def _values_ok(df: pd.DataFrame, layout: _Layout) -> bool:
    """True when no used field is missing and every rating is finite."""
    for name, kind in zip(layout.names, layout.kinds, strict=True):
        if kind == SKIP:
            continue
        col = df[name]
        if col.isna().any():
            return False
        if kind == FLOAT and not np.isfinite(col.to_numpy(dtype=np.float64)).all():
            return False
    return True


def _first_bad_line(path: Path, layout: _Layout) -> tuple[int, str] | None:
    """The first line whose fields do not fit the layout, with what is wrong; None if all fit."""
    n = len(layout.names)
    header_pending = layout.has_header
    with open(path, encoding=layout.encoding, errors="replace", newline="") as fh:
        for lineno, fields in _rows(fh, layout.sep):
            if header_pending:
                header_pending = False
                continue
            if len(fields) != n:
                return lineno, f"found {len(fields)} fields instead of {n}"
            for field, name, kind in zip(fields, layout.names, layout.kinds, strict=True):
                if not _field_ok(field.strip(), kind):
                    return lineno, f"{name} is {field!r}, expected {_EXPECTED[kind]}"
    return None


def _rows(lines: Iterator[str], sep: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (1-based line number, fields) for each non-blank line."""
    if len(sep) == 1:
        reader = csv.reader(lines, delimiter=sep)
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                yield reader.line_num, fields
        return
    for lineno, line in enumerate(lines, start=1):
        if line.strip():
            yield lineno, line.rstrip("\r\n").split(sep)


def _field_ok(value: str, kind: str) -> bool:
    if kind == SKIP:
        return True
    if kind in (STR, ID):
        return value != ""
    if kind == INT:
        return _int64_ok(value)
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _int64_ok(value: str) -> bool:
    """True for an integer (or integral number) that fits in int64."""
    try:
        number = int(value)
    except ValueError:
        try:
            real = float(value)
        except ValueError:
            return False
        if not real.is_integer():
            return False
        number = int(real)
    return -(2**63) <= number < 2**63


def _split_line(line: str, sep: str) -> list[str]:
    if len(sep) == 1:
        return next(csv.reader([line], delimiter=sep), [])
    return line.split(sep)


def _is_header(fields: list[str], wanted: tuple[str | None, ...]) -> bool:
    """A first line is a header when it names a known or requested column."""
    names = {w.lower() for w in wanted if w}
    names.update(USER_ALIASES + ITEM_ALIASES + RATING_ALIASES + TIMESTAMP_ALIASES)
    return any(f.lower() in names for f in fields)


def _roles_from_header(
    path: Path,
    lineno: int,
    fields: list[str],
    user_col: str,
    item_col: str,
    rating_col: str | None,
    timestamp_col: str | None,
) -> dict[int, str]:
    """Map field positions to output columns by header name (exact first, then aliases)."""
    roles = {
        _find_column(path, lineno, fields, USER, user_col, USER_ALIASES): USER,
        _find_column(path, lineno, fields, ITEM, item_col, ITEM_ALIASES): ITEM,
    }
    if rating_col is not None:
        roles[_find_column(path, lineno, fields, RATING, rating_col, RATING_ALIASES)] = RATING
    if timestamp_col is not None:
        roles[_find_column(path, lineno, fields, TIMESTAMP, timestamp_col, ())] = TIMESTAMP
    else:
        found = _match(fields, TIMESTAMP_ALIASES)
        if found is not None and found not in roles:
            roles[found] = TIMESTAMP
    if len(roles) < 2 + (rating_col is not None) + (timestamp_col is not None):
        raise DataError(f"{path}: line {lineno}: two roles name the same column in {fields}")
    return roles


def _find_column(
    path: Path, lineno: int, fields: list[str], role: str, wanted: str, aliases: tuple[str, ...]
) -> int:
    if wanted in fields:
        return fields.index(wanted)
    candidates = (wanted, *aliases) if wanted == role else (wanted,)
    found = _match(fields, candidates)
    if found is not None:
        return found
    hint = f"set {role}_col to the right name"
    if role == RATING:
        hint += ", or rating_col=None for implicit feedback (every rating becomes 1.0)"
    raise DataError(
        f"{path}: line {lineno}: no {role} column; looked for {', '.join(candidates)} "
        f"(any case) in the header {fields}; {hint}"
    )


def _match(fields: list[str], candidates: tuple[str, ...]) -> int | None:
    lowered = [f.lower() for f in fields]
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered.index(candidate.lower())
    return None


def _roles_by_position(
    path: Path, lineno: int, n: int, rating_col: str | None, timestamp_col: str | None
) -> dict[int, str]:
    """Without a header: user, item[, rating[, timestamp]] by position."""
    if n > 4:
        raise DataError(
            f"{path}: line {lineno}: no header line and {n} columns, so which is which is unclear; "
            "add a header naming the user, item and rating columns"
        )
    if n == 2 and rating_col is not None:
        raise DataError(
            f"{path}: line {lineno}: no header and 2 columns, so there is no rating column; pass "
            "rating_col=None for implicit feedback (every rating becomes 1.0)"
        )
    if timestamp_col is not None and n < 4:
        raise DataError(
            f"{path}: line {lineno}: no header and {n} columns, so there is no timestamp column; "
            "expected user, item, rating, timestamp"
        )
    roles = {0: USER, 1: ITEM}
    if n >= 3 and rating_col is not None:
        roles[2] = RATING
    if n == 4:
        roles[3] = TIMESTAMP
    return roles


def _generic_layout(
    sep: str, fields: list[str], roles: dict[int, str], has_header: bool
) -> _Layout:
    kinds = {USER: ID, ITEM: ID, RATING: FLOAT, TIMESTAMP: INT}
    names = tuple(roles.get(i, f"_unused{i}") for i in range(len(fields)))
    shown = ", ".join(f"{roles[i]} (field {i + 1})" for i in sorted(roles))
    return _Layout(
        sep=sep,
        names=names,
        kinds=tuple(kinds.get(n, SKIP) for n in names),
        description=f"{len(fields)} {sep!r}-separated fields per line: {shown}"
        + ("" if has_header else " (no header line naming user/item/rating, so by position)"),
        has_header=has_header,
        encoding="utf-8-sig",
    )


def _normalise_ids(col: pd.Series) -> pd.Series:
    """Integer ids become int64; integral floats too; anything else becomes strings."""
    if pd.api.types.is_integer_dtype(col):
        return col.astype(np.int64)
    if pd.api.types.is_float_dtype(col):
        values = col.to_numpy()
        if np.all(values == np.round(values)):
            return col.astype(np.int64)
    return col.astype(str)
