"""A small builder of synthetic postings: patch mails, cover letters, replies, mboxes."""

from __future__ import annotations

import difflib
from pathlib import Path

AUTHOR = "Test Author <author@example.org>"
FROM_LINE = "From 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n"


def new_file(path: str, lines: list[str]) -> str:
    body = "".join(f"+{ln}\n" for ln in lines)
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1111111\n"
        f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"
    )


def edit(path: str, old: list[str], new: list[str]) -> str:
    """A diff of path from old to new lines (unified, 3 lines of context)."""
    hunks = difflib.unified_diff(
        [ln + "\n" for ln in old], [ln + "\n" for ln in new], f"a/{path}", f"b/{path}"
    )
    return f"diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n" + "".join(hunks)


def patch(
    n: int,
    total: int,
    title: str,
    diff: str,
    *,
    prefix: str = "PATCH net-next",
    version: int | None = None,
    author: str = AUTHOR,
    signed_off: str | None = AUTHOR,
    message: str = "Explain why the change is needed, as a commit message does.",
    trailers: tuple[str, ...] = (),
    message_id: str | None = None,
    in_reply_to: str | None = None,
    subject: str | None = None,
) -> str:
    """One patch mail (no mbox From_ line)."""
    ver = f" v{version}" if version else ""
    subject = subject or f"[{prefix}{ver} {n}/{total}] {title}"
    tags = list(trailers) + ([f"Signed-off-by: {signed_off}"] if signed_off else [])
    headers = [
        f"From: {author}",
        "Date: Mon, 1 Jan 2024 00:00:00 +0000",
        f"Subject: {subject}",
        f"Message-ID: {message_id or f'<patch-{n}@example.org>'}",
    ]
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    return (
        "\n".join(headers)
        + f"\n\n{message}\n\n"
        + "\n".join(tags)
        + "\n---\n"
        + diff
        + "-- \n2.39.5\n"
    )


def cover(
    total: int,
    title: str = "net: a series",
    *,
    prefix: str = "PATCH net-next",
    version: int | None = None,
    base_commit: str | None = None,
) -> str:
    ver = f" v{version}" if version else ""
    base = f"\nbase-commit: {base_commit}\n" if base_commit else ""
    return (
        f"From: {AUTHOR}\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
        f"Subject: [{prefix}{ver} 0/{total}] {title}\nMessage-ID: <cover@example.org>\n\n"
        f"What the series does and why.\n{base}\n-- \n2.39.5\n"
    )


def reply(subject: str, in_reply_to: str, body: str) -> str:
    return (
        f"From: Reviewer <reviewer@example.org>\nSubject: {subject}\n"
        f"Message-ID: <reply-{abs(hash(body))}@example.org>\n"
        f"In-Reply-To: {in_reply_to}\nReferences: {in_reply_to}\n\n{body}\n"
    )


def mbox(*mails: str) -> str:
    return "".join(FROM_LINE + m + ("" if m.endswith("\n") else "\n") + "\n" for m in mails)


def write_mbox(path: Path, *mails: str, crlf: bool = False) -> Path:
    text = mbox(*mails)
    path.write_bytes(text.replace("\n", "\r\n").encode() if crlf else text.encode())
    return path


def good_series() -> list[str]:
    """A cover letter and three patches: a new file, an edit of it, a UAPI header with
    its tools/ mirror."""
    uapi = ["#define XDP_A 1", "#define XDP_B 2"]
    return [
        cover(3),
        patch(1, 3, "net: add a helper", new_file("net/core/helper.c", ["int helper;"])),
        patch(
            2,
            3,
            "net: use the helper",
            edit("net/core/helper.c", ["int helper;"], ["int helper;", "int user;"]),
        ),
        patch(
            3,
            3,
            "net: add XDP_B to the UAPI",
            edit("include/uapi/linux/xdpx.h", uapi[:1], uapi)
            + edit("tools/include/uapi/linux/xdpx.h", uapi[:1], uapi),
        ),
    ]
