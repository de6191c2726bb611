"""A posting read from an mbox: its patches in order, its cover letter, the tags
reviewers gave in replies. Numbering problems are refused with a named error."""

from __future__ import annotations

import email
import email.policy
import email.utils
import mailbox
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path

from harness.errors import UsageError

_BRACKETS = re.compile(r"^\s*((?:\[[^\]]*\]\s*)+)(.*)$", re.S)
_NUMBER = re.compile(r"(?:^|\s)(\d+)/(\d+)(?=\s|$)")
_VERSION = re.compile(r"(?:^|\s)[vV](\d+)(?=\s|$)")
_REPLY = re.compile(r"^\s*(?:re|aw|sv|antw)\s*:", re.I)
_IN_BODY_FROM = re.compile(r"^From:[ \t]*([^\n]+)\n\n")
_BASE_COMMIT = re.compile(r"^base-commit:\s*([0-9a-f]{7,40})\s*$", re.M)
GIVEN_TAG = re.compile(r"^(Reviewed-by|Acked-by|Tested-by):\s*(\S.*)$", re.M)
TREES = ("net", "net-next", "bpf", "bpf-next")


@dataclass(frozen=True)
class Mail:
    """One message of the posting: a patch, or the cover letter (number 0)."""

    number: int
    total: int
    version: int  # 1 when the subject names none
    prefix: str  # the subject's brackets, e.g. "RFC PATCH bpf-next v2 03/11"
    title: str  # the subject without them
    author_name: str
    author_email: str
    message_id: str
    date: str
    body: str  # decoded text, LF line ends
    given_tags: tuple[str, ...] = ()  # Reviewed-by: ... given in replies

    @property
    def subject(self) -> str:
        return f"[{self.prefix}] {self.title}" if self.prefix else self.title

    @property
    def author(self) -> str:
        return (
            f"{self.author_name} <{self.author_email}>" if self.author_name else self.author_email
        )

    @property
    def message(self) -> str:
        """The commit message: the body up to the first `---` line (or the diff)."""
        lines: list[str] = []
        for line in self.body.splitlines():
            if line == "---" or line.startswith("diff --git "):
                break
            lines.append(line)
        return "\n".join(lines).strip("\n")

    @property
    def diff(self) -> str:
        i = self.body.find("diff --git ")
        if i > 0 and self.body[i - 1] != "\n":
            i = self.body.find("\ndiff --git ") + 1
        return self.body[i:] if i >= 0 else ""

    def as_patch(self) -> str:
        """The message as git format-patch writes it: for git am and checkpatch."""
        headers = [
            "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001",
            f"From: {self.author}",
        ]
        if self.date:
            headers.append(f"Date: {self.date}")
        headers.append(f"Subject: {self.subject}")
        if not (self.author + self.subject + self.body).isascii():
            headers += [
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=UTF-8",
                "Content-Transfer-Encoding: 8bit",
            ]
        body = self.body if self.body.endswith("\n") else self.body + "\n"
        return "\n".join(headers) + "\n\n" + body


@dataclass(frozen=True)
class Posting:
    """A series as posted: the cover letter (if any) and the patches, 1..n in order."""

    origin: str  # where it came from, for messages: the mbox, the series, the range
    patches: tuple[Mail, ...]
    cover: Mail | None = None
    base_commit: str | None = None  # `base-commit:` of the posting
    ignored: tuple[str, ...] = field(default_factory=tuple)  # subjects not taken, and why

    @property
    def version(self) -> int:
        return self.patches[0].version

    @property
    def prefix_words(self) -> list[str]:
        first = self.cover or self.patches[0]
        return _NUMBER.sub(" ", first.prefix).split()


def _decode(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def _author(msg: EmailMessage, body: str) -> tuple[str, str, str]:
    """Name, address and the body without an in-body From: (a patch sent for someone)."""
    m = _IN_BODY_FROM.match(body)
    if m:
        name, addr = email.utils.parseaddr(m.group(1))
        return name, addr, body[m.end() :]
    header = msg["From"]
    addrs = getattr(header, "addresses", ())
    if addrs:
        return addrs[0].display_name, addrs[0].addr_spec, body
    name, addr = email.utils.parseaddr(str(header or ""))
    return name, addr, body


def _ids(value: object) -> list[str]:
    return re.findall(r"<[^>]+>", str(value or ""))


@dataclass
class _Reply:
    subject: str
    refs: list[str]  # In-Reply-To first, then References, nearest first
    tags: list[str]


def _given_tags(body: str) -> list[str]:
    lines = [ln for ln in body.splitlines() if not ln.lstrip().startswith(">")]
    return [f"{m.group(1)}: {m.group(2).strip()}" for m in GIVEN_TAG.finditer("\n".join(lines))]


def parse_messages(raws: Iterable[bytes], origin: str) -> Posting:
    """The posting in these messages (each one mail, without its mbox From_ line)."""
    mails: list[Mail] = []
    replies: list[_Reply] = []
    ignored: list[str] = []
    for raw in raws:
        msg = _decode(raw)
        subject = " ".join(str(msg["Subject"] or "").split())
        body = _text(msg)
        if _REPLY.match(subject):
            refs = _ids(msg["In-Reply-To"]) + list(reversed(_ids(msg["References"])))
            replies.append(_Reply(subject, refs, _given_tags(body)))
            continue
        m = _BRACKETS.match(subject)
        prefix, title = "", subject
        if m is not None:
            prefix = " ".join(re.findall(r"\[([^\]]*)\]", m.group(1)))
            title = m.group(2).strip()
        is_patch = "PATCH" in prefix.upper().split() or "RFC" in prefix.upper().split()
        if not is_patch and "\ndiff --git " not in "\n" + body:
            ignored.append(f"{subject!r}: not a patch (no [PATCH] prefix, no diff)")
            continue
        num = _NUMBER.search(prefix)
        ver = _VERSION.search(prefix)
        name, addr, body = _author(msg, body)
        mails.append(
            Mail(
                number=int(num.group(1)) if num else 1,
                total=int(num.group(2)) if num else 1,
                version=int(ver.group(1)) if ver else 1,
                prefix=prefix,
                title=title,
                author_name=name,
                author_email=addr,
                message_id=(_ids(msg["Message-ID"]) or [""])[0],
                date=str(msg["Date"] or ""),
                body=body,
            )
        )
    if not mails:
        raise UsageError(
            f"{origin}: no patch in it (no message with a [PATCH ...] subject or a diff)",
            "give the mbox of the posting's thread (e.g. b4 mbox <message-id>, or lore's "
            "thread mbox), or git format-patch output",
        )
    _check_numbering(mails, origin)
    mails = _with_given_tags(mails, replies)
    cover = next((m for m in mails if m.number == 0), None)
    patches = tuple(sorted((m for m in mails if m.number), key=lambda m: m.number))
    base = None
    for mail in (cover, *reversed(patches)):
        found = _BASE_COMMIT.search(mail.body) if mail else None
        if found:
            base = found.group(1)
            break
    return Posting(origin, patches, cover, base, tuple(ignored))


def _check_numbering(mails: list[Mail], origin: str) -> None:
    fix_one = (
        "save only one posting's thread in the mbox (b4 mbox <message-id of its cover "
        "letter>), or remove the other version's messages"
    )
    versions = defaultdict(list)
    for m in mails:
        versions[m.version].append(f"{m.number}/{m.total}")
    if len(versions) > 1:
        which = "; ".join(f"v{v}: {', '.join(ns)}" for v, ns in sorted(versions.items()))
        raise UsageError(f"{origin}: patches of more than one version ({which})", fix_one)
    totals = defaultdict(list)
    for m in mails:
        totals[m.total].append(f"{m.number}/{m.total} {m.title!r}")
    if len(totals) > 1:
        which = "; ".join(f"of {t}: {', '.join(ns)}" for t, ns in sorted(totals.items()))
        raise UsageError(
            f"{origin}: the subjects disagree on how many patches the series has ({which})",
            fix_one,
        )
    total = mails[0].total
    seen: dict[int, list[str]] = defaultdict(list)
    for m in mails:
        seen[m.number].append(m.title)
        if m.number > total:
            raise UsageError(
                f"{origin}: patch {m.number}/{total} {m.title!r} is numbered beyond the total",
                "fix the numbering: git format-patch numbers patches 1/n to n/n",
            )
    dups = {n: titles for n, titles in seen.items() if len(titles) > 1}
    if dups:
        which = "; ".join(
            f"{n}/{total} ({' and '.join(repr(t) for t in ts)})" for n, ts in sorted(dups.items())
        )
        raise UsageError(
            f"{origin}: duplicated patch numbers: {which}",
            "keep one copy of each (a resend, or another version, in the same mbox?); " + fix_one,
        )
    missing = [n for n in range(1, total + 1) if n not in seen]
    if missing:
        raise UsageError(
            f"{origin}: incomplete series: missing {', '.join(f'{n}/{total}' for n in missing)}"
            f" (have {', '.join(str(n) for n in sorted(seen) if n)})",
            "save the whole thread (b4 mbox <message-id>, or lore's thread mbox) or add the "
            "missing patches",
        )


def _with_given_tags(mails: list[Mail], replies: list[_Reply]) -> list[Mail]:
    """Each patch with the tags given in replies to it; a tag given to the cover
    letter is for every patch."""
    by_id = {m.message_id: m for m in mails if m.message_id}
    by_number = {m.number: m for m in mails}
    tags: dict[int, list[str]] = defaultdict(list)
    for r in replies:
        if not r.tags:
            continue
        target = next((by_id[i] for i in r.refs if i in by_id), None)
        if target is None:
            m = _NUMBER.search(r.subject)
            target = by_number.get(int(m.group(1))) if m else None
        if target is None:
            continue
        numbers = [n for n in by_number if n] if target.number == 0 else [target.number]
        for n in numbers:
            tags[n].extend(t for t in r.tags if t not in tags[n])
    return [replace(m, given_tags=tuple(tags[m.number])) if tags[m.number] else m for m in mails]


def read_mbox(path: Path) -> Posting:
    if not path.is_file():
        raise UsageError(f"--mbox {path}: no such file", "give the path of an mbox file")
    box = mailbox.mbox(path, create=False)
    try:
        raws = [box.get_bytes(key) for key in box.iterkeys()]
    finally:
        box.close()
    if not raws:
        raise UsageError(
            f"--mbox {path}: not an mbox (no message starting with a 'From ' line)",
            "give an mbox (b4 mbox, lore's thread mbox, or git format-patch --stdout)",
        )
    return parse_messages(raws, str(path))


def read_patch_files(files: Iterable[Path], origin: str) -> Posting:
    """git format-patch files, one mail each (as in patches/<series>/)."""
    raws = []
    for f in files:
        data = f.read_bytes()
        if data.startswith(b"From "):
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        raws.append(data)
    return parse_messages(raws, origin)
