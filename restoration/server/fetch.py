"""What a remote caller gives by value or by address: a file as base64 (a ``data:`` URL or bare), or
an ``http(s)`` URL this server fetches, without letting it reach the server's own network.

A URL's host is resolved here and every address it resolves to must be public: private, loopback,
link-local, shared (CGNAT), multicast and reserved addresses are refused (so a caller cannot make the
server read its cloud metadata service or an intranet page: server-side request forgery), and the
connection goes to the address that was checked, never to a second lookup (DNS rebinding). Redirects
are followed by the same rules, a few at most. Sizes are held to the caller's limit while reading,
not taken from headers. ``RESTORATION_FETCH_PRIVATE`` lets an operator allow private addresses (a
server on an intranet). Only the standard library is used.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from .. import config
from .._version import __version__
from ..errors import OptionError

MAX_REDIRECTS = 3
TIMEOUT_S = 20.0
_B64 = re.compile(r"^[A-Za-z0-9+/=_\-\s]+$")
# The first bytes of the files a caller may give, and the extension they are stored under.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"GIF8", ".gif"), (b"BM", ".bmp"),
          (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"), (b"\x1aE\xdf\xa3", ".mkv"))


@dataclass(frozen=True)
class Fetched:
    """A caller's file: its bytes and a safe file name (from the URL, or from what the bytes are)."""

    data: bytes
    name: str


def read_input(value: str, what: str, limit_bytes: int) -> Fetched:
    """The file ``value`` names: a ``data:`` URL, bare base64, or an ``http(s)`` URL fetched now.
    ``what`` ("image", "video") names it in errors. Raises ``OptionError`` saying what is wrong and
    what to give instead: an empty value, bad base64, a refused address, an HTTP error, a file over
    ``limit_bytes``."""
    if not isinstance(value, str) or not value.strip():
        raise OptionError(f"{what}: give the {what} as an http(s) URL or as base64 (a data: URL)")
    value = value.strip()
    if value.startswith("data:"):
        head, _, payload = value.partition(",")
        if ";base64" not in head:
            return _named(unquote(payload).encode(), what, limit_bytes, "")
        return _named(_decode(payload, what, limit_bytes), what, limit_bytes, "")
    if re.match(r"^https?://", value, re.I):
        data, path = _fetch(value, what, limit_bytes)
        return _named(data, what, limit_bytes, PurePosixPath(unquote(path)).name)
    if re.match(r"^[a-z][a-z0-9+.-]*:", value, re.I) and not _B64.match(value):
        raise OptionError(f"{what}: only http(s) URLs and base64 are taken, not {value.split(':')[0]}: URLs")
    return _named(_decode(value, what, limit_bytes), what, limit_bytes, "")


def _decode(payload: str, what: str, limit_bytes: int) -> bytes:
    if len(payload) * 3 // 4 > limit_bytes + 3:
        raise OptionError(f"{what}: more than {limit_bytes >> 20} MB, this server's limit")
    try:
        return base64.b64decode("".join(payload.split()), altchars=b"-_" if "-" in payload or "_" in payload else None,
                                validate=True)
    except (binascii.Error, ValueError):
        raise OptionError(f"{what}: not valid base64; send the file's bytes base64-encoded, or an http(s) URL") \
            from None


def _named(data: bytes, what: str, limit_bytes: int, name: str) -> Fetched:
    if not data:
        raise OptionError(f"{what}: the file is empty")
    if len(data) > limit_bytes:
        raise OptionError(f"{what}: more than {limit_bytes >> 20} MB, this server's limit")
    name = re.sub(r"[^\w.\- ]", "_", name)[-100:].lstrip(".")
    if not PurePosixPath(name).suffix:
        name = f"{name or what}{_kind(data)}"
    return Fetched(data, name)


def _kind(data: bytes) -> str:
    """The extension of what ``data`` is (by its first bytes); ".bin" when unknown."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return ".avi"
    if data[4:8] == b"ftyp":
        return ".mov" if data[8:10] == b"qt" else ".mp4"
    return next((ext for magic, ext in _MAGIC if data.startswith(magic)), ".bin")


def is_public(address: str) -> bool:
    """Whether ``address`` is on the public internet (not private, loopback, link-local, shared,
    multicast, reserved or unspecified; an IPv4 address mapped into IPv6 counts as itself)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _address(host: str, port: int, url: str) -> str:
    """The address to connect to for ``host``: every address it resolves to must be public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise OptionError(f"{url}: the host {host} cannot be found ({e})") from None
    addresses = [info[4][0] for info in infos]
    if not config.get("RESTORATION_FETCH_PRIVATE") and not all(is_public(a) for a in addresses):
        raise OptionError(f"{url}: refused: {host} is a private, loopback or otherwise non-public address; give a "
                          "public URL, or send the file itself as base64")
    return addresses[0]


class _Pinned(http.client.HTTPConnection):
    """A connection to the address that was checked, whatever the name resolves to by now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _fetch(url: str, what: str, limit_bytes: int) -> tuple[bytes, str]:
    """GET ``url`` (following at most ``MAX_REDIRECTS`` redirects, each checked); (body, final path)."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise OptionError(f"{what}: {url}: only http(s) URLs with a host are taken")
        if parts.username or parts.password:
            raise OptionError(f"{what}: {url}: URLs with a user name or password are not taken")
        tls = parts.scheme.lower() == "https"
        port = parts.port or (443 if tls else 80)
        conn = (_PinnedTLS if tls else _Pinned)(parts.hostname, port, _address(parts.hostname, port, url), TIMEOUT_S)
        try:
            conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                         headers={"User-Agent": f"restoration/{__version__}", "Accept": "*/*"})
            resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
                url = urljoin(url, resp.getheader("Location"))
                continue
            if resp.status != 200:
                raise OptionError(f"{what}: {url}: the server answered HTTP {resp.status} {resp.reason}")
            declared = resp.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit_bytes:
                raise OptionError(f"{what}: {url} is {int(declared) >> 20} MB, more than this server's limit of "
                                  f"{limit_bytes >> 20} MB")
            body = resp.read(limit_bytes + 1)
            if len(body) > limit_bytes:
                raise OptionError(f"{what}: {url} is more than this server's limit of {limit_bytes >> 20} MB")
            return body, parts.path
        except (OSError, http.client.HTTPException) as e:
            raise OptionError(f"{what}: {url} could not be fetched ({type(e).__name__}: {e})") from None
        finally:
            conn.close()
    raise OptionError(f"{what}: {url}: more than {MAX_REDIRECTS} redirects")
