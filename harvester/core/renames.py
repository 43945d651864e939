"""Names X renamed between OpenAPI 2.166 and 2.167, and what to resend when a server refuses one.

Why: X's document 2.167 renamed the parameter ``tweet.fields`` to ``post.fields`` and several
field and expansion values (x-api-spec.md §0 "Field-name drift"), and dropped others. Which
names api.x.com accepts today is not known (§0: "UNCONFIRMED whether the live API accepts
both"), and X-like servers follow one version or the other. So harvester sends what the job
says, and when a server answers 400 naming a refused value, the request engine asks
:func:`known_rename` whether the value has a known counterpart the server lists (a 400 is not
billed, so one resend costs nothing); anything else fails the job.

Every entry is sourced: the 2.166 names are the enums x-api-spec.md §1 "Fields and expansions"
quotes (the same lists the 2.167 document still carries on its stream routes), the 2.167 names
are the document's ``components/parameters`` enums (:mod:`harvester.core.api_tables`); a name
present in one version only has no counterpart. ``tests/core/test_renames.py`` rebuilds each
version's enums from this table and the other version's, so a missing or wrong entry fails.

The table is keyed by *family* (post fields, user fields, post expansions, user expansions),
not by value alone: ``edit_history_tweet_ids`` is a post field that 2.167 removed but a post
expansion that 2.167 renamed, and ``affiliation`` is a 2.166 user field but a 2.167 user
expansion.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from harvester.core.invalid_request import InvalidValue, parse_invalid_values

__all__ = [
    "FAMILY_PARAMS",
    "KNOWN_NAMES",
    "PARAM_RENAMES",
    "Change",
    "Family",
    "InvalidValue",
    "KnownName",
    "Rename",
    "aliases",
    "apply_rename",
    "known_rename",
    "param_counterpart",
    "parse_invalid_values",
    "renames_for",
]

OLD, NEW = "2.166", "2.167"
_SPEC_0 = "x-api-spec.md §0 'Field-name drift'"
_SPEC_1 = "x-api-spec.md §1 'Fields and expansions' (2.166 enums) vs OpenAPI 2.167"


class Family(StrEnum):
    """A set of names that one parameter takes."""

    POST_FIELDS = "post fields"
    USER_FIELDS = "user fields"
    POST_EXPANSIONS = "post expansions"
    USER_EXPANSIONS = "user expansions"


# The parameters each family's values are sent in (either name of a renamed parameter).
FAMILY_PARAMS: dict[Family, tuple[str, ...]] = {
    Family.POST_FIELDS: ("tweet.fields", "post.fields"),
    Family.USER_FIELDS: ("user.fields",),
    Family.POST_EXPANSIONS: ("expansions",),
    Family.USER_EXPANSIONS: ("expansions",),
}

# Parameter renames, 2.166 name -> 2.167 name (§0: "renamed the REST param tweet.fields ->
# post.fields ... while the stream endpoints still list tweet.fields").
PARAM_RENAMES: dict[str, str] = {"tweet.fields": "post.fields"}


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownName:
    """One value whose name differs between the versions.

    Attributes:
        family: which parameter's values it belongs to.
        old: the OpenAPI 2.166 name; None when 2.167 added the value.
        new: the OpenAPI 2.167 name; None when 2.167 removed the value.
        source: where the pair comes from.
    """

    family: Family
    old: str | None
    new: str | None
    source: str

    @property
    def change(self) -> str:
        if self.old is None:
            return f"added in {NEW}"
        if self.new is None:
            return f"removed in {NEW}"
        return f"renamed in {NEW}"


def _renamed(family: Family, old: str, new: str, source: str = _SPEC_1) -> KnownName:
    return KnownName(family=family, old=old, new=new, source=source)


def _removed(family: Family, old: str) -> KnownName:
    return KnownName(family=family, old=old, new=None, source=_SPEC_1)


def _added(family: Family, new: str) -> KnownName:
    return KnownName(family=family, old=None, new=new, source=_SPEC_1)


_P, _U, _PX, _UX = Family.POST_FIELDS, Family.USER_FIELDS, Family.POST_EXPANSIONS, Family.USER_EXPANSIONS
KNOWN_NAMES: tuple[KnownName, ...] = (
    # Post expansions: 2.166 PostExpansions (§1) vs 2.167 PostExpansionsParameter.
    _renamed(_PX, "referenced_tweets.id", "referenced_posts", _SPEC_0),
    _renamed(_PX, "edit_history_tweet_ids", "edit_history_post_ids"),
    _removed(_PX, "referenced_tweets.id.author_id"),
    _removed(_PX, "referenced_tweets.id.attachments.media_keys"),
    _removed(_PX, "entities.note.mentions.username"),
    _added(_PX, "username"),
    # Post fields: 2.166 tweet.fields (§1) vs 2.167 post.fields (PostFieldsParameter).
    _renamed(_P, "note_tweet", "note_post"),
    _removed(_P, "author_id"),
    _removed(_P, "in_reply_to_user_id"),
    _removed(_P, "referenced_tweets"),
    _removed(_P, "edit_history_tweet_ids"),
    _added(_P, "article_title"),
    # User expansions: 2.166 (§1) vs 2.167 UserExpansionsParameter.
    _renamed(_UX, "pinned_tweet_id", "pinned_post_id"),
    _renamed(_UX, "most_recent_tweet_id", "most_recent_post_id"),
    _renamed(_UX, "affiliation.user_id", "affiliation"),
    # User fields: 2.166 user.fields (§1) vs 2.167 UserFieldsParameter.
    _removed(_U, "pinned_tweet_id"),
    _removed(_U, "most_recent_tweet_id"),
    _removed(_U, "affiliation"),
    _added(_U, "subscribes_to_you"),
)


def param_counterpart(param: str) -> str | None:
    """The other version's name of a renamed parameter (``tweet.fields`` <-> ``post.fields``)."""
    for old, new in PARAM_RENAMES.items():
        if param == old:
            return new
        if param == new:
            return old
    return None


def _families(param: str) -> list[Family]:
    return [f for f, params in FAMILY_PARAMS.items() if param in params]


def _entry(param: str, value: str) -> KnownName | None:
    for entry in KNOWN_NAMES:
        if entry.family in _families(param) and value in (entry.old, entry.new):
            return entry
    return None


def aliases(param: str, names: Collection[str]) -> frozenset[str]:
    """The other version's names for an enum ``names`` of ``param`` (as a document lists it).

    The family is recognised by its members: an enum holding every 2.167 (or every 2.166) name
    of a family's table entries is that family (a route's ``expansions`` enum with
    ``referenced_posts``, ``edit_history_post_ids`` and ``username`` is the post family). One
    shared name is not enough: DM event expansions list ``referenced_posts`` too, and an enum of
    no known family (list expansions) gets no aliases. Names that have no counterpart are
    included as well: a job may use them, and they are dropped if the server refuses them.
    """
    given = set(names)
    result: set[str] = set()
    for family in _families(param):
        entries = [e for e in KNOWN_NAMES if e.family == family]
        old = {e.old for e in entries if e.old is not None}
        new = {e.new for e in entries if e.new is not None}
        if old <= given or new <= given:
            result |= (old | new) - given
    return frozenset(result)


class Change(StrEnum):
    """What a :class:`Rename` does to a request."""

    PARAMETER = "rename parameter"
    VALUE = "rename value"
    DROP = "drop value"


@dataclass(frozen=True, slots=True, kw_only=True)
class Rename:
    """A change to resend a refused request with.

    Attributes:
        change: what to do.
        param: the parameter as sent.
        value: the value as sent (None for :attr:`Change.PARAMETER`).
        new: the parameter's new name (PARAMETER), the value's new name (VALUE), or None (DROP).
        reason: why, with the source; for the run's log line.
    """

    change: Change
    param: str
    value: str | None
    new: str | None
    reason: str

    def describe(self) -> str:
        """One line for the log: what was sent, what is sent instead, and why."""
        if self.change is Change.PARAMETER:
            return f"sending {self.param} as {self.new} ({self.reason})"
        if self.change is Change.VALUE:
            return f"sending {self.param} value {self.value} as {self.new} ({self.reason})"
        return f"dropping {self.param} value {self.value} ({self.reason})"


def known_rename(param: str | None, value: str | None, valid_values: Collection[str] = ()) -> Rename | None:
    """The known change that gets past a server's refusal of ``value`` in ``param``, if any.

    Args:
        param: the refused parameter (None: the server did not say; then nothing is known).
        value: the refused value; None when the server refused the parameter itself.
        valid_values: the server's list of valid values (of valid parameter names when the
            parameter was refused); empty when it gave none.

    Returns:
        - the parameter's other name (``tweet.fields`` <-> ``post.fields``) when the parameter was
          refused and the other name is listed (or nothing is listed);
        - the value's other-version name when it has one and it is listed (or nothing is);
        - a drop when the value exists in one version only: it cannot be asked for under any
          name, and dropping it keeps the harvest going;
        - None otherwise (the job fails with the server's message), including when the server
          lists the value as valid, or lists neither name.
    """
    if param is None:
        return None
    valid = {v.strip() for v in valid_values}
    if value is None:
        other = param_counterpart(param)
        if other is None or (valid and other not in valid):
            return None
        old_name, new_name = (param, other) if param in PARAM_RENAMES else (other, param)
        reason = f"OpenAPI {NEW} renamed {old_name} to {new_name}; {_SPEC_0}"
        return Rename(change=Change.PARAMETER, param=param, value=None, new=other, reason=reason)
    value = value.strip()
    if value in valid:
        return None
    entry = _entry(param, value)
    if entry is None:
        return None
    other_value = entry.new if value == entry.old else entry.old
    if other_value is None:
        reason = f"{entry.family.removesuffix('s')} {value} {entry.change}; {entry.source}"
        return Rename(change=Change.DROP, param=param, value=value, new=None, reason=reason)
    if valid and other_value not in valid:
        return None
    version = OLD if value == entry.new else NEW
    reason = f"{entry.family.removesuffix('s')} {value} is {other_value} in OpenAPI {version}; {entry.source}"
    return Rename(change=Change.VALUE, param=param, value=value, new=other_value, reason=reason)


def renames_for(refused: Sequence[InvalidValue]) -> tuple[Rename, ...] | None:
    """The renames that answer every refusal of one 400, or None if any has none.

    A 400 may refuse several values at once; the request is resent once with all of them
    changed, or not at all (the job fails naming what was refused).
    """
    if not refused:
        return None
    found: list[Rename] = []
    for item in refused:
        rename = known_rename(item.param, item.value, item.valid)
        if rename is None:
            return None
        if rename not in found:
            found.append(rename)
    return tuple(found)


def _csv(values: Iterable[str]) -> str:
    return ",".join(dict.fromkeys(v for v in values if v))


def apply_rename(params: Mapping[str, str], rename: Rename) -> dict[str, str]:
    """``params`` (a request's query) with ``rename`` applied; unchanged if it does not apply.

    Values are comma-joined lists: a renamed value keeps its place (and a repeat it would create
    is dropped), a dropped value's parameter goes when it was the last value.
    """
    out = dict(params)
    if rename.param not in out:
        return out
    if rename.change is Change.PARAMETER:
        assert rename.new is not None
        moved = out.pop(rename.param).split(",")
        out[rename.new] = _csv([*out.get(rename.new, "").split(","), *moved])
        return out
    values = out[rename.param].split(",")
    if rename.change is Change.VALUE:
        assert rename.new is not None
        values = [rename.new if v == rename.value else v for v in values]
    else:
        values = [v for v in values if v != rename.value]
    joined = _csv(values)
    if joined:
        out[rename.param] = joined
    else:
        del out[rename.param]
    return out
