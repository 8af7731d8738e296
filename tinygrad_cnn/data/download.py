"""A checked, atomic download: each mirror in turn, MD5 and SHA-256 verified, written under a
temporary name and renamed into place only when correct, so nothing half-written is ever left."""
import hashlib
import os
import urllib.error
import urllib.request

from ..atomic import atomic_write


class DownloadError(RuntimeError):
    """No mirror gave a file with the right checksum."""


class _ChecksumMismatch(Exception):
    """A mirror's file arrived whole but wrong: it is discarded."""


def download(name, root, mirrors, md5, sha256, dataset, files_by_hand, opener=urllib.request.urlopen, timeout=30):
    """Fetch ``name`` from the first mirror that gives it with the right checksums into ``root``.

    Offline (no mirror answered), the error is one sentence naming the files to place by hand."""
    os.makedirs(root, exist_ok=True)
    errors = []
    for mirror in mirrors:
        try:
            with atomic_write(os.path.join(root, name), prefix=f".{name}.", suffix=".part") as out:
                h_md5, h_sha = hashlib.md5(), hashlib.sha256()
                with opener(mirror + name, timeout=timeout) as response:
                    for chunk in iter(lambda: response.read(1 << 16), b""):
                        out.write(chunk)
                        h_md5.update(chunk)
                        h_sha.update(chunk)
                if h_md5.hexdigest() != md5 or h_sha.hexdigest() != sha256:
                    raise _ChecksumMismatch
            return os.path.join(root, name)
        except _ChecksumMismatch:
            errors.append(f"{mirror}: checksum mismatch")
        except (urllib.error.URLError, OSError, ValueError) as error:
            errors.append(f"{mirror}: {getattr(error, 'reason', error)}")
    if all("checksum" not in e for e in errors):
        raise DownloadError(f"{dataset}: could not download {name} (no network or no mirror answered: "
                            f"{'; '.join(errors)}); place the files {', '.join(files_by_hand)} in {root} by hand")
    raise DownloadError(f"{dataset}: no mirror gave a correct {name} ({'; '.join(errors)}); nothing was written")
