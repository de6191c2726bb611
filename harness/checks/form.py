"""The form of a patch mail: a subject `subsystem: summary`, a commit message, a diff."""

from __future__ import annotations

from harness.checks import CheckResult, failed, passed, warned
from harness.mbox import Mail

NAME = "format"
MAX_TITLE = 75


def check_form(mail: Mail) -> CheckResult:
    problems: list[str] = []
    advice: list[str] = []
    if not mail.diff:
        problems.append("no diff in the mail (not a patch, or a broken attachment)")
    text = [
        ln
        for ln in mail.message.splitlines()
        if ln.strip() and not ln.lstrip().lower().startswith(("signed-off-by:", "cc:"))
    ]
    if not text:
        problems.append("no commit message: say why the change is needed")
    if ":" not in mail.title:
        advice.append(f"subject {mail.title!r} names no subsystem ('subsystem: summary')")
    if mail.title.endswith("."):
        advice.append("subject ends with a period")
    if len(mail.title) > MAX_TITLE:
        advice.append(f"subject is {len(mail.title)} characters (at most {MAX_TITLE})")
    if problems:
        return failed(NAME, "; ".join(problems + advice))
    if advice:
        return warned(NAME, "; ".join(advice))
    return passed(NAME)
