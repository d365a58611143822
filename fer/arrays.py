"""NumPy arrays in ``.npz`` archives, read without trusting what the archive says of itself.

Two kinds of files hold arrays: the imported dataset's cache (one uncompressed archive, so the
full 35,887 faces load in a fraction of a second) and a run's test results (compressed: reference
runs are committed, and every tracked byte counts against the 64 MiB that the GPU machine takes
with its data). Either may be damaged or edited by hand, and numpy allocates whatever shape an
array's header declares before it reads a byte, so the headers are checked first.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from fer.paths import MAX_STATE_FILE_BYTES

ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError)
"""What zipfile raises for a damaged, encrypted or oddly compressed archive or entry (an
``.npz``, a dataset's zip)."""


def npz_bytes(compress: bool, **arrays: np.ndarray) -> memoryview:
    """An ``.npz`` archive of ``arrays``, to write atomically; a view, not a copy, of the buffer
    (the full dataset's cache is 83 MB, stored as it is).

    Compressed, each array is deflated at level 9, not numpy's 6: a run's per-face answers on worse
    photos take 6.0 KB instead of 9.0, and they are committed with reference runs. Its members are
    dated 1980-01-01, so the same arrays give the same bytes and a committed file changes only
    when they do."""
    buffer = io.BytesIO()
    if not compress:
        np.savez(buffer, **arrays)
        return buffer.getbuffer()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, member.getbuffer(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getbuffer()


def check_declared_size(archive: zipfile.ZipFile, member: str) -> None:
    """Raise ValueError if the array header of ``member`` declares more bytes than the member
    holds: numpy allocates the declared shape before it reads, so an edited header claiming a
    huge shape would fail as a MemoryError, or take the machine's memory, instead of as damage."""
    with archive.open(member) as file:
        version = np.lib.format.read_magic(file)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(file)
        declared = math.prod(shape) * dtype.itemsize
        held = archive.getinfo(member).file_size - file.tell()
    if declared > held:
        raise ValueError(f"its {member} declares {shape} ({declared:,} bytes) but holds {held:,} bytes")


def read_npz_array(path: Path, name: str) -> np.ndarray:
    """The array ``name`` of a small archive such as a run's ``probabilities.npz``.

    Raises ValueError (damage, as a parse error is) unless the archive holds it, it unpacks to at
    most :data:`~fer.paths.MAX_STATE_FILE_BYTES` (zip reads stop at the declared size, so a
    deflate bomb can't grow past it) and its header declares no more than it holds.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            member = f"{name}.npy"
            size = archive.getinfo(member).file_size
            if size > MAX_STATE_FILE_BYTES:
                raise ValueError(f"its {member} unpacks to {size:,} bytes, more than a run file can be")
            check_declared_size(archive, member)
            with archive.open(member) as file:
                return np.lib.format.read_array(file, allow_pickle=False)
    except (*ZIP_ERRORS, KeyError) as error:  # KeyError: no such array
        raise ValueError(f"{path.name} is damaged ({error})") from error
