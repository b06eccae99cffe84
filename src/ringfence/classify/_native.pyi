# Type stub for the C extension built from csrc/classify/_native.c.
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, overload

_T = TypeVar("_T")

MAX_DEPTH: int

def json_leaves(
    obj: Any,
    prefix: tuple[str | int, ...],
    leaf_type: type[tuple[Any, ...]],
    norm_key: Callable[[Any], str],
    normalize: Callable[[str], str],
    /,
) -> list[Any] | None: ...

class RawDoc(Sequence[Any]):
    """The leaves of one JSON body read by json_raw, each built when first indexed."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: int, /) -> Any: ...
    @overload
    def __getitem__(self, index: slice, /) -> Sequence[Any]: ...
    def keys(self) -> list[str]: ...

def json_raw(
    body: bytes,
    sep: str,
    leaf_type: type[tuple[Any, ...]],
    norm_key: Callable[[Any], str],
    normalize: Callable[[str], str],
    /,
) -> tuple[RawDoc, str, list[int], bytes, str] | None: ...
def join_leaves(leaves: list[Any], sep: str, /) -> tuple[str, list[int], bytes, str]: ...
def mask_alnum(value: str, keep_tail: int, keep_head: int, /) -> str: ...
def mask_from(value: str, keep: int, /) -> str: ...
def preview(style: str, keep_prefix: int, limit: int, value: str, /) -> str: ...
def outside_uuids(
    hits: list[Any], leaves: Any, in_uuid: Callable[[str, int, int], bool], /
) -> list[Any]: ...
def new_objects(
    cls: type[_T], names: tuple[str, ...], rows: list[tuple[Any, ...]], untrack: bool = ..., /
) -> list[_T]: ...
def matches_at(match: Callable[[str, int], Any], text: str, offsets: list[int], /) -> list[Any]: ...
def confirm(
    spec: tuple[Any, ...],
    engine: tuple[Any, ...],
    leaves: list[Any],
    text: str,
    starts: list[int],
    matches: Iterable[Any],
    out: list[Any],
    bare_ok: bool,
    taken: dict[int, Any],
    /,
) -> None: ...
def context_matches(
    spec: tuple[Any, ...],
    engine: tuple[Any, ...],
    finditer: Callable[[str, int, int], Iterable[Any]],
    leaves: list[Any],
    text: str,
    starts: list[int],
    at: list[int],
    search: Callable[[str, int, int], Any] | None = None,
    probe: tuple[tuple[str, ...], ...] | None = None,
    /,
) -> list[Any]: ...
def window_probe(text: str, lo: int, end: int, probe: tuple[tuple[str, ...], ...], /) -> bool: ...
def matches_back(
    match: Callable[[str, int], Any], text: str, offsets: list[int], back: int, chars: str, /
) -> list[Any]: ...
def email_spans(text: str, offsets: list[int], back: int, /) -> list[tuple[int, int]]: ...
def finding_rows(
    hits: list[Any],
    leaves: Any,
    step: int,
    min_conf: float,
    top: Any,
    limit: int,
    paths: dict[Any, str],
    format_path: Callable[[Any], str],
    preview: Callable[[Any, str], str],
    /,
) -> tuple[list[tuple[Any, ...]], Any, frozenset[str]]: ...
def resolve_overlaps(hits: list[Any], /) -> list[Any] | None: ...
def card_starts(data: bytes, found: dict[int, set[int]], id: int, /) -> None: ...
def luhn_ok(num: str, /) -> bool: ...
def digits(value: str, /) -> str: ...
def consistent_separators(value: str, /) -> bool: ...
def payment_card(value: str, /) -> bool: ...
def mod97(s: str, /) -> int: ...
def email(value: str, /) -> bool: ...
def canonical(fallback: Callable[[str], str], value: str, /) -> str: ...
def anchor_starts(
    data: bytes,
    byte: int,
    back: int,
    match: Callable[[bytes, int], object] | None,
    found: dict[int, set[int]],
    pid: int,
    limit: int,
    /,
) -> bool: ...
def hs_collect(
    pid: int, start: int, end: int, flags: int, found: dict[int, set[int]], /
) -> None: ...
def char_candidates(
    scanned: str | None, cands: dict[int, set[int]], utf8: bytes | None = None, /
) -> dict[int, list[int]]: ...

# The phone validator's twin (_phone.inc.c): plans are opaque capsules made by phone_plan.
def phone(value: str, /) -> bool: ...
def phone_decided(value: str, /) -> bool | None: ...
def phone_setup(
    fallback: Callable[[str], bool], compile: Callable[[str], bytes | None], codes: bytes, /
) -> None: ...
def phone_plan(
    leading: str | None,
    prefix: str | None,
    general: str | None,
    general_lengths: tuple[int, ...],
    types: tuple[tuple[str, tuple[int, ...]], ...],
    /,
) -> object: ...
def phone_main(cc: int, width: int, regions: int, plan: object | None, /) -> None: ...
def phone_candidates(cc: int, length: int, plans: tuple[object, ...], /) -> None: ...
def phone_plans_decide(
    main: object, single: bool, plans: tuple[object, ...] | None, nsn: str, /
) -> bool | None: ...
