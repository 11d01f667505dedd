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


# Made under HOME when no other folder will do (a checkout under /tmp).
PRIVATE_BASE = "~/.cache/execward-tests"


def safe_base(execward):
    """A folder to make safe program folders in, or None."""
    cands = [os.environ.get("EW_TEST_SAFE_DIR"),
             os.path.dirname(os.path.abspath(execward)),
             os.path.expanduser("~/.cache")]
    for c in cands:
        if c and os.path.isdir(c) and safe_chain(c):
            return c
    private = os.path.expanduser(PRIVATE_BASE)
    if safe_chain(os.path.dirname(os.path.dirname(private))):
        os.makedirs(private, mode=0o700, exist_ok=True)
        if safe_chain(private):
            return private
    return None


def safe_dir(execward, prefix):
    """A fresh private folder for test programs (caller removes it)."""
    base = safe_base(execward)
    if base is None:
        raise RuntimeError("no folder outside /tmp that only root and uid "
                           "%d may write (set EW_TEST_SAFE_DIR)"
                           % os.getuid())
    return tempfile.mkdtemp(prefix=prefix, dir=base)


_safe_tools = {}


def safe_library(lib):
    """libexecward.so where no sandbox can replace it, with its
    execward-escalate beside it: lib itself when its folders are safe,
    else a copy made once in a private folder (a checkout under /tmp,
    which workspace-write lets commands write, is refused as a place to
    run escalated programs' tools from), removed when the process ends."""
    if not lib or safe_chain(os.path.dirname(os.path.abspath(lib))):
        return lib
    if lib not in _safe_tools:
        import atexit
        import shutil
        d = safe_dir(lib, "ew-tools-")
        atexit.register(shutil.rmtree, d, True)
        for f in (lib, os.path.join(os.path.dirname(lib),
                                    "execward-escalate")):
            if os.path.exists(f):
                shutil.copy2(f, d)
        _safe_tools[lib] = os.path.join(d, os.path.basename(lib))
    return _safe_tools[lib]


def use_safe_library():
    """Point EXECWARD_LIBRARY and EW_ESCALATE at safe copies (see
    safe_library), for every execward this process starts."""
    lib = os.environ.get("EXECWARD_LIBRARY", "")
    safe = safe_library(lib)
    if safe and safe != lib:
        os.environ["EXECWARD_LIBRARY"] = safe
        if os.environ.get("EW_ESCALATE"):
            os.environ["EW_ESCALATE"] = os.path.join(
                os.path.dirname(safe), "execward-escalate")


def safe_copy(path):
    """path (a rules file or folder) where no sandbox can write it: path
    itself when its folders are safe, else a copy in a private folder,
    removed when the process ends. execward refuses a sandbox whose
    writable roots hold its rules (a checkout under /tmp)."""
    import atexit
    import shutil
    if safe_chain(path):
        return path
    d = safe_dir(path, "ew-rules-")
    atexit.register(shutil.rmtree, d, True)
    dest = os.path.join(d, os.path.basename(path))
    if os.path.isdir(path):
        shutil.copytree(path, dest)
    else:
        shutil.copy2(path, dest)
    return dest
