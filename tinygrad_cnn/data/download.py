"""A checked, atomic download: each mirror in turn, MD5 and SHA-256 verified, written under a
temporary name and renamed into place only when correct, so nothing half-written is ever left."""
import hashlib
import os
import tempfile
import urllib.error
import urllib.request


class DownloadError(RuntimeError):
    """No mirror gave a file with the right checksum."""


def checksums_match(path, md5, sha256):
    h_md5, h_sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h_md5.update(chunk)
            h_sha.update(chunk)
    return h_md5.hexdigest() == md5 and h_sha.hexdigest() == sha256


def download(name, root, mirrors, md5, sha256, dataset, files_by_hand, opener=urllib.request.urlopen, timeout=30):
    """Fetch ``name`` from the first mirror that gives it with the right checksums into ``root``.

    Offline (no mirror answered), the error is one sentence naming the files to place by hand."""
    os.makedirs(root, exist_ok=True)
    errors = []
    for mirror in mirrors:
        handle, tmp = tempfile.mkstemp(dir=root, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out, opener(mirror + name, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
            if not checksums_match(tmp, md5, sha256):
                errors.append(f"{mirror}: checksum mismatch")
                continue
            os.replace(tmp, os.path.join(root, name))
            return os.path.join(root, name)
        except (urllib.error.URLError, OSError, ValueError) as error:
            errors.append(f"{mirror}: {getattr(error, 'reason', error)}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    if all("checksum" not in e for e in errors):
        raise DownloadError(f"{dataset}: could not download {name} (no network or no mirror answered: "
                            f"{'; '.join(errors)}); place the files {', '.join(files_by_hand)} in {root} by hand")
    raise DownloadError(f"{dataset}: no mirror gave a correct {name} ({'; '.join(errors)}); nothing was written")
