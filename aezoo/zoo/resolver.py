"""Where a zoo file's bytes come from: the one place that opens a zoo file or a URL.

A file is asked for by its path in the card and its ``{sha256, bytes}``; it is
used only once its size and sha256 match. The sources, in order:

1. a local zoo folder: ``root=``, else ``$AEZOO_ZOO_DIR``, else the checkout's
   ``saved_models/`` when aezoo runs from its source tree;
2. the user cache: ``$AEZOO_CACHE``, else ``$XDG_CACHE_HOME/aezoo``, else
   ``~/.cache/aezoo``; one flat file per zoo file, named ``<stem>-<sha256[:12]><suffix>``;
3. remote sources: ``$AEZOO_ZOO_URL`` (base URLs separated by spaces, tried in
   order: ``https://``, ``http://``, ``file://``, ``hf://org/repo@revision``
   through huggingface_hub), then the registry's own ``base_urls``. A download
   lands in the cache.

Downloads stream into a temporary file in the cache folder, are checked (size,
sha256), then renamed into place, so the cache never holds a partial or wrong
file, and processes fetching the same file at once end with one valid copy (a
lock file lets the later ones wait and reuse it). Connection errors,
timeouts, HTTP 5xx, short reads and hash mismatches are retried with backoff;
HTTP 4xx is not (the next source is tried). ``AEZOO_OFFLINE=1`` never opens a
socket. Settings (environment): ``AEZOO_CONNECT_TIMEOUT`` (s, default 10),
``AEZOO_READ_TIMEOUT`` (s between bytes, default 60), ``AEZOO_DOWNLOAD_RETRIES``
(default 3), ``AEZOO_DOWNLOAD_BACKOFF`` (s before the first retry, doubling;
default 1).
"""

import contextlib
import hashlib
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from aezoo.errors import ZooDownloadError, ZooIntegrityError, ZooOfflineError
from aezoo.zoo.registry import checkout_zoo_dir, read_registry, release_name

_CHUNK = 1 << 20
_TRUE = ("1", "true", "yes", "on")
# huggingface_hub's errors that no retry can fix (by name: their module moved between releases).
_HF_MISSING = ("EntryNotFoundError", "RepositoryNotFoundError", "RevisionNotFoundError",
               "GatedRepoError")


# ------------------------------------------------------------------ settings
def _env_number(name, default, kind=float):
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ZooDownloadError(f"${name} must be a number, got {text!r}")
    if value < 0:
        raise ZooDownloadError(f"${name} must be >= 0, got {text!r}")
    return value


def offline():
    """True when ``$AEZOO_OFFLINE`` is 1/true/yes/on: no socket is ever opened."""
    return os.environ.get("AEZOO_OFFLINE", "").strip().lower() in _TRUE


def cache_dir():
    """The user cache: ``$AEZOO_CACHE``, else ``$XDG_CACHE_HOME/aezoo``, else ``~/.cache/aezoo``."""
    explicit = os.environ.get("AEZOO_CACHE")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return os.path.abspath(os.path.join(os.path.expanduser(base), "aezoo"))


def local_zoo_dir(root=None):
    """(folder, explicit): ``root``, else ``$AEZOO_ZOO_DIR`` (explicit), else the checkout's."""
    if root is not None:
        return os.path.abspath(os.path.expanduser(os.fspath(root))), True
    env = os.environ.get("AEZOO_ZOO_DIR")
    if env:
        return os.path.abspath(os.path.expanduser(env)), True
    return checkout_zoo_dir(), False


def remote_bases():
    """The base URLs to try, in order: ``$AEZOO_ZOO_URL``'s, then the registry's."""
    bases = os.environ.get("AEZOO_ZOO_URL", "").split()
    for base in read_registry().get("base_urls") or []:
        if base not in bases:
            bases.append(base)
    return bases


def file_url(base, name):
    """``base`` joined with a released file's name (``hf://`` keeps its ``@revision``)."""
    if base.startswith("hf://"):
        return f"{base}#{name}"
    return base.rstrip("/") + "/" + urllib.parse.quote(name)


def cached_path(relative, expected):
    """Where the cache keeps (or would keep) the file ``relative`` of these contents."""
    return os.path.join(cache_dir(), release_name(relative, expected["sha256"]))


# ---------------------------------------------------------------- checking
def problem(data_or_path, expected):
    """None if the bytes (or the file) match ``expected``, else what is wrong."""
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        size, sha = len(data_or_path), hashlib.sha256(data_or_path).hexdigest()
    else:
        if not os.path.isfile(data_or_path):
            return "missing"
        sha, size = file_digest(data_or_path)
    if size != expected.get("bytes"):
        kind = "truncated" if size < expected.get("bytes", 0) else "padded"
        return f"{kind}: {size} bytes, the card says {expected.get('bytes')}"
    if sha != expected.get("sha256"):
        return "sha256 mismatch, the file was altered"
    return None


def file_digest(path):
    """(sha256 hex, size in bytes) of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _read_if_valid(path, expected):
    """(bytes or None, problem or None) for a file that may not exist."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None, "missing"
    except OSError as error:
        return None, f"cannot be read: {error}"
    wrong = problem(data, expected)
    return (None, wrong) if wrong else (data, None)


# ----------------------------------------------------------------- resolving
def locate(relative, expected, root=None, label=None, progress=None):
    """The path of a verified copy of zoo file ``relative``, fetched into the cache if need be.

    A file in an explicitly given zoo folder (``root=``, ``$AEZOO_ZOO_DIR``) that
    fails its check raises ``ZooIntegrityError`` at once: that folder is the
    user's, and is never replaced. The checkout's ``saved_models/`` is only a
    shortcut: a file there that differs is passed over. A cached file that
    fails its check is deleted and fetched again, once.
    """
    return _resolve(relative, expected, root, label, progress, read=False)[0]


def read_verified(relative, expected, root=None, label=None, progress=None):
    """The bytes of zoo file ``relative`` (found as ``locate`` finds it), checked in memory.

    Models are built from these bytes, so a file changed after its check
    cannot slip through; a file found at hand is read and hashed once.
    """
    return _resolve(relative, expected, root, label, progress, read=True)[1]


def _resolve(relative, expected, root, label, progress, read):
    """(path, bytes if ``read`` else None) of the first valid copy, fetching one if need be."""
    label = label or relative

    def check(path):
        return _read_if_valid(path, expected) if read else (None, problem(path, expected))

    folder, explicit = local_zoo_dir(root)
    local_problem = None
    if folder is not None:
        path = os.path.join(folder, relative)
        data, local_problem = check(path)
        if local_problem is None:
            return path, data
        if explicit and local_problem != "missing":
            raise ZooIntegrityError(f"{path}: {local_problem} ({label})")
    if read:  # a cache hit, read once; fetch below deals with a missing or bad copy
        path = cached_path(relative, expected)
        data, _ = check(path)
        if data is not None:
            return path, data
    path = fetch(relative, expected, label=label, progress=progress,
                 local=(folder, local_problem))
    if not read:
        return path, None
    data, wrong = _read_if_valid(path, expected)
    if data is None:  # changed under us after the check
        raise ZooIntegrityError(f"{path}: {wrong} ({label})")
    return path, data


def fetch(relative, expected, label=None, progress=None, local=(None, None)):
    """The path of a verified cached copy of ``relative``, downloading it if needed."""
    label = label or relative
    target = cached_path(relative, expected)
    refetched = _drop_if_invalid(target, expected)
    if refetched is None:
        return target
    bases = remote_bases()
    urls = [file_url(base, os.path.basename(target)) for base in bases]
    where = _looked_in(local, target, refetched)
    if offline():
        raise ZooOfflineError(
            f"{label} is not cached and AEZOO_OFFLINE=1 forbids downloading it; "
            f"{where}. Download it by hand from "
            + (" or ".join(urls) if urls else "a release of the aezoo zoo (no source is "
                                               "configured: set AEZOO_ZOO_URL)")
            + f", check that its sha256 is {expected['sha256']} ({expected['bytes']:,} "
            f"bytes), and put it at {target}"
        )
    if not urls:
        message = (f"{label}: {where}, and no remote source is configured: set AEZOO_ZOO_URL "
                   f"to a release's base URL, or put the file (sha256 {expected['sha256']}) "
                   f"at {target}")
        raise (ZooIntegrityError if local[0] is not None else ZooDownloadError)(message)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    failures = []
    with _lock(target):
        if _drop_if_invalid(target, expected) is None:  # another process finished it
            return target
        for url in urls:
            try:
                _download(url, target, expected, progress)
                return target
            except _Failed as failure:
                failures.append(str(failure))
    raise ZooDownloadError(
        f"{label} (sha256 {expected['sha256']}) could not be fetched; {where}:\n  "
        + "\n  ".join(failures)
    )


def _drop_if_invalid(target, expected):
    """None if ``target`` is a valid copy; else removes a bad one and says so ('' if absent)."""
    wrong = problem(target, expected)
    if wrong is None:
        return None
    if wrong == "missing":
        return ""
    with contextlib.suppress(FileNotFoundError):
        os.remove(target)
    print(f"aezoo: the cached {target} was {wrong}; fetching it again", file=sys.stderr)
    return wrong


def _looked_in(local, target, refetched):
    folder, local_problem = local
    parts = []
    if folder is not None:
        parts.append(f"not in the zoo folder {folder} ({local_problem})")
    parts.append(f"not in the cache {os.path.dirname(target)}"
                 + (f" (the cached copy was {refetched} and was removed)" if refetched else ""))
    return ", ".join(parts)


@contextlib.contextmanager
def _lock(target):
    """An exclusive lock per cached file (POSIX ``flock``; elsewhere none: renames stay atomic)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows)
        yield
        return
    directory = os.path.join(os.path.dirname(target), ".locks")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, os.path.basename(target) + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- downloads
class _Failed(Exception):
    """A source that did not give the file; the message names the URL and why."""


class _Retry(Exception):
    """A failure worth another attempt: connection, timeout, 5xx, short read, wrong bytes."""


def _download(url, target, expected, progress):
    """Fetches ``url`` into ``target`` (checked, atomic), retrying transient failures."""
    retries = _env_number("AEZOO_DOWNLOAD_RETRIES", 3, int)
    backoff = _env_number("AEZOO_DOWNLOAD_BACKOFF", 1.0)
    errors = []
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _attempt(url, target, expected, progress)
            return
        except _Retry as error:
            errors.append(str(error))
    raise _Failed(f"{url}: {len(errors)} attempts failed: " + "; ".join(errors))


def _attempt(url, target, expected, progress):
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme in ("http", "https"):
        opener = _open_http
    elif scheme == "file":
        opener = _open_file
    elif scheme == "hf":
        opener = _open_hf
    else:
        raise _Failed(f"{url}: unsupported scheme {scheme!r} (use https, http, file or hf)")
    handle, temp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".part",
                                    dir=os.path.dirname(target))
    try:
        digest, size = hashlib.sha256(), 0
        with os.fdopen(handle, "wb") as out, opener(url) as (chunks, length):
            bar = _progress_bar(os.path.basename(target), expected["bytes"], progress)
            try:
                for chunk in chunks:
                    size += len(chunk)
                    if size > expected["bytes"]:
                        raise _Retry(f"more than the expected {expected['bytes']:,} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                    bar(len(chunk))
            finally:
                bar(None)
        if size != expected["bytes"]:
            raise _Retry(f"short read: {size:,} of {expected['bytes']:,} bytes"
                         + (f" (the server announced {length:,})" if length else ""))
        if digest.hexdigest() != expected["sha256"]:
            raise _Retry(f"sha256 mismatch: got {digest.hexdigest()}")
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)


@contextlib.contextmanager
def _open_http(url):
    import requests

    timeout = (_env_number("AEZOO_CONNECT_TIMEOUT", 10.0), _env_number("AEZOO_READ_TIMEOUT", 60.0))
    from aezoo import __version__

    try:
        response = requests.get(url, stream=True, timeout=timeout,
                                headers={"User-Agent": f"aezoo/{__version__}"})
    except requests.RequestException as error:
        raise _Retry(f"{type(error).__name__}: {error}")
    with response:
        if 400 <= response.status_code < 500:
            raise _Failed(f"{url}: HTTP {response.status_code} {response.reason} (not retried)")
        if response.status_code != 200:
            raise _Retry(f"HTTP {response.status_code} {response.reason}")
        length = response.headers.get("Content-Length")

        def chunks():
            try:
                yield from response.iter_content(_CHUNK)
            except requests.RequestException as error:
                raise _Retry(f"{type(error).__name__}: {error}")

        yield chunks(), int(length) if length and length.isdigit() else None


@contextlib.contextmanager
def _open_file(url):
    path = urllib.request.url2pathname(urllib.parse.urlsplit(url).path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise _Failed(f"{url}: no such file {path}")
    except OSError as error:
        raise _Retry(f"cannot read {path}: {error}")
    with handle:
        yield iter(lambda: handle.read(_CHUNK), b""), os.fstat(handle.fileno()).st_size


@contextlib.contextmanager
def _open_hf(url):
    """``hf://org/repo@revision#file``: huggingface_hub's download, then checked like any other."""
    try:
        import huggingface_hub
    except ImportError:
        raise _Failed(f"{url}: hf:// sources need huggingface_hub (pip install 'aezoo[hf]')")
    location, _, name = url[len("hf://"):].partition("#")
    repo, _, revision = location.partition("@")
    try:
        path = huggingface_hub.hf_hub_download(repo_id=repo.strip("/"), filename=name,
                                               revision=revision or None)
    except Exception as error:  # noqa: BLE001  (its network errors have no common base)
        if type(error).__name__ in _HF_MISSING:
            raise _Failed(f"{url}: {type(error).__name__}: {error}")
        raise _Retry(f"{type(error).__name__}: {error}")
    with _open_file("file://" + urllib.request.pathname2url(path)) as opened:
        yield opened


def _progress_bar(name, total, progress):
    """A callback ``bar(n)`` (``bar(None)`` closes): tqdm on a terminal, else silent."""
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        return lambda n: None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
               file=sys.stderr, leave=False)
    return lambda n: bar.close() if n is None else bar.update(n)
