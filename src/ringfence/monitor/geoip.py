"""ASN and country of a source IP from MaxMind-format databases (``maxminddb``), for UEBA.

Configured in ``monitor.yaml``::

    geoip:
      asn_db: /var/lib/GeoIP/GeoLite2-ASN.mmdb          # autonomous_system_number / _organization
      country_db: /var/lib/GeoIP/GeoLite2-City.mmdb  # country.iso_code (+ location with City)

Either may be left out. The databases are the operator's (MaxMind GeoLite2 / GeoIP2, DB-IP's
"lite" databases, or any MMDB with the same record layout); Ringfence does not download them.
A file that is missing, unreadable or of the wrong kind is a ConfigError naming it, when the
monitor is built — not a failure in the middle of a batch. Lookups are memoised per process
(a bounded LRU), so a busy IP costs one tree walk.

The databases are updated weekly upstream (``geoipupdate``): every ``refresh_seconds`` a lookup
checks the files' identity (inode, size, modification time) and reads a changed one again,
then forgets the memoised answers. A replacement that cannot be read (half-copied, wrong kind,
deleted) is logged and the database in memory stays in use; it is tried again at the next
check.
"""

from __future__ import annotations

import ipaddress
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import maxminddb

from ringfence.core.errors import ConfigError
from ringfence.core.logging import get_logger

_CACHE = 65536
REFRESH_SECONDS = 300.0
_KINDS = {"asn_db": ("ASN",), "country_db": ("Country", "City")}
_log = get_logger("ringfence.monitor.geoip")


@dataclass(frozen=True, slots=True)
class IpInfo:
    asn: str | None = None  # "AS13335"
    asn_org: str | None = None  # "Cloudflare, Inc."
    country: str | None = None  # ISO 3166-1 alpha-2, "DE"
    # from a City database: where the address is, and how sure (MaxMind's accuracy radius)
    lat: float | None = None
    lon: float | None = None
    city: str | None = None
    radius_km: float = 0.0


_NOTHING = IpInfo()


def _open(path: Path, kind: str, wanted: tuple[str, ...]) -> Any:
    try:
        # Read into memory, not mapped: a database replaced in place (cp over the live file)
        # would kill a process that maps it (SIGBUS). A new file is read by GeoIP.refresh.
        reader = maxminddb.open_database(str(path), mode=maxminddb.MODE_MEMORY)
    except FileNotFoundError:
        raise ConfigError(f"monitor.yaml: geoip.{kind}: {path} does not exist") from None
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise ConfigError(
            f"monitor.yaml: geoip.{kind}: {path} is not a MaxMind database ({exc})"
        ) from None
    db_type = str(reader.metadata().database_type)
    if not any(w.lower() in db_type.lower() for w in wanted):
        reader.close()
        raise ConfigError(
            f"monitor.yaml: geoip.{kind}: {path} is a {db_type!r} database; "
            f"expected one of {', '.join(wanted)}"
        )
    return reader


def degrees(value: object, bound: float) -> float | None:
    """``value`` as an angle within ±``bound`` degrees, or None (NaN, 1e9 or True is no place:
    it would make every trip "impossible")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and -bound <= value <= bound else None


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """The file's identity as far as a replacement changes it; None if it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class GeoIP:
    """ASN and country lookups over the configured databases."""

    def __init__(
        self,
        asn_db: Path | None = None,
        country_db: Path | None = None,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        paths = {"asn_db": asn_db, "country_db": country_db}
        self._paths = {kind: p for kind, p in paths.items() if p is not None}
        self._stamps = {kind: _stamp(p) for kind, p in self._paths.items()}
        self._readers: dict[str, Any] = {
            kind: _open(p, kind, _KINDS[kind]) for kind, p in self._paths.items()
        }
        self._cached = lru_cache(maxsize=_CACHE)(self._lookup)
        self._refresh = refresh_seconds
        self._mono = monotonic
        self._next_check = monotonic() + refresh_seconds

    def refresh(self) -> bool:
        """Read again a database whose file changed; True if one was replaced. A file that
        cannot be read keeps the one in memory in use (logged) and is tried again next time."""
        self._next_check = self._mono() + self._refresh
        replaced = False
        for kind, path in self._paths.items():
            stamp = _stamp(path)
            if stamp == self._stamps[kind]:
                continue
            try:
                reader = _open(path, kind, _KINDS[kind])  # missing or unreadable: ConfigError
            except ConfigError as exc:
                _log.warning("geoip_reload_failed", database=kind, problem=exc.message)
                continue
            self._readers[kind].close()
            self._readers[kind], self._stamps[kind] = reader, stamp
            replaced = True
            _log.info("geoip_reloaded", database=kind, path=str(path))
        if replaced:
            self._cached = lru_cache(maxsize=_CACHE)(self._lookup)
        return replaced

    def lookup(self, ip: str) -> IpInfo:
        """What the databases say of ``ip`` (an IPv4-mapped IPv6 address as its IPv4); an
        invalid or non-global address gives an empty ``IpInfo`` and is not cached."""
        if self._mono() >= self._next_check:
            self.refresh()
        if len(ip) > 64:
            return _NOTHING
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return _NOTHING
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if not addr.is_global:
            return _NOTHING  # private, loopback, documentation ranges: no owner to learn
        return self._cached(addr)

    @classmethod
    def from_config(cls, section: Any) -> GeoIP | None:
        """From monitor.yaml's ``geoip`` mapping (already shape-checked); None if absent."""
        if not section:
            return None
        asn, country = section.get("asn_db"), section.get("country_db")
        if asn is None and country is None:
            return None
        return cls(
            Path(str(asn)) if asn is not None else None,
            Path(str(country)) if country is not None else None,
        )

    def _lookup(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> IpInfo:
        asn = org = country = None
        try:
            asn_db, country_db = self._readers.get("asn_db"), self._readers.get("country_db")
            if asn_db is not None:
                rec = asn_db.get(addr)
                if isinstance(rec, dict):
                    num = rec.get("autonomous_system_number")
                    if isinstance(num, int) and num > 0:
                        asn = f"AS{num}"
                        name = rec.get("autonomous_system_organization")
                        org = name[:200] if isinstance(name, str) and name else None
            lat = lon = city = None
            radius = 0.0
            if country_db is not None:
                rec = country_db.get(addr)
                rec = rec if isinstance(rec, dict) else {}
                block = rec.get("country")
                code = block.get("iso_code") if isinstance(block, dict) else None
                country = code if isinstance(code, str) and code else None
                loc = rec.get("location")
                if isinstance(loc, dict):
                    la, lo = degrees(loc.get("latitude"), 90), degrees(loc.get("longitude"), 180)
                    if la is not None and lo is not None:
                        lat, lon = la, lo
                    r = loc.get("accuracy_radius")
                    if isinstance(r, int | float) and math.isfinite(r) and 0 < r <= 20_000:
                        radius = float(r)
                block = rec.get("city")
                names = block.get("names") if isinstance(block, dict) else None
                name = names.get("en") if isinstance(names, dict) else None
                city = name[:100] if isinstance(name, str) and name else None
        except Exception:  # a corrupt or hostile database: no answer for this address
            return _NOTHING
        if asn is None and country is None and lat is None:
            return _NOTHING
        return IpInfo(asn, org, country, lat, lon, city, radius)

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
