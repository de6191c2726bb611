"""Signed-off-by: the patch's author signed it off (address, or at least name)."""

from __future__ import annotations

import email.utils
import re

from harness.checks import CheckResult, failed, passed, warned
from harness.mbox import Mail

NAME = "signed-off-by"
_SOB = re.compile(r"^Signed-off-by:\s*(.+)$", re.M | re.I)


def check_signoff(mail: Mail) -> CheckResult:
    sobs = [m.group(1).strip() for m in _SOB.finditer(mail.message)]
    if not sobs:
        return failed(
            NAME,
            f"no Signed-off-by: line; the author {mail.author} must add one",
            "add 'Signed-off-by: Name <address>' (git commit -s) to the commit message",
        )
    log = "\n".join(f"Signed-off-by: {s}" for s in sobs)
    parsed = [email.utils.parseaddr(s) for s in sobs]
    if any(addr.lower() == mail.author_email.lower() for _, addr in parsed if addr):
        return passed(NAME, f"signed off by the author {mail.author}", log)
    if mail.author_name and any(n.lower() == mail.author_name.lower() for n, _ in parsed if n):
        return warned(
            NAME,
            f"signed off by the author's name but another address than From: {mail.author}",
            log,
        )
    return failed(
        NAME,
        f"no Signed-off-by: of the author {mail.author} (From:); found {', '.join(sobs)}",
        log,
    )
