"""Shared by the sandbox tests: where test programs may live so that the
broker escalates them, and small helpers.

Escalation runs only a program the sandbox cannot have written or
replaced: outside every writable root of the session, in folders that
belong to root or to us and that nobody else may write (so not under
/tmp or /var/tmp, whatever their sticky bit says). Test programs are
written to such a folder.
"""
import os
import tempfile


def safe_chain(path):
    """Is path, and every folder above it, ours or root's and writable by
    nobody else?"""
    p = os.path.realpath(path)
    if not os.path.isdir(p):
        return False
    while True:
        st = os.stat(p)
        if st.st_uid not in (0, os.getuid()) or st.st_mode & 0o022:
            return False
        if p == "/":
            return True
        p = os.path.dirname(p)


def safe_base(execward):
    """A folder to make safe program folders in, or None."""
    cands = [os.environ.get("EW_TEST_SAFE_DIR"),
             os.path.dirname(os.path.abspath(execward)),
             os.path.expanduser("~/.cache")]
    for c in cands:
        if c and os.path.isdir(c) and safe_chain(c):
            return c
    return None


def safe_dir(execward, prefix):
    """A fresh private folder for test programs (caller removes it)."""
    base = safe_base(execward)
    if base is None:
        raise RuntimeError("no folder outside /tmp that only root and uid "
                           "%d may write (set EW_TEST_SAFE_DIR)"
                           % os.getuid())
    return tempfile.mkdtemp(prefix=prefix, dir=base)
