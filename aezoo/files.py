"""Writing a file so that readers see the old one or the whole new one, never a part."""

import os
import tempfile


def write_atomic(path, write):
    """Calls ``write(temporary path)`` beside ``path``, then renames the result into place.

    The temporary file keeps ``path``'s suffix (``np.save`` and friends look at it)
    and is removed if ``write`` fails; the result gets the usual 0644 permissions.
    """
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=".aezoo-", suffix=os.path.splitext(path)[1],
                                    dir=directory)
    os.close(handle)
    try:
        write(temp)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
