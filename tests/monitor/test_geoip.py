"""UEBA's ASN / country terms from MaxMind-format databases (written here with mmdb-writer)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from ringfence.core.clock import FixedClock
from ringfence.core.errors import ConfigError
from ringfence.monitor.alerts import AlertStore
from ringfence.monitor.events import Event
from ringfence.monitor.geoip import GeoIP, IpInfo
from ringfence.monitor.parsers import parser_for
from ringfence.monitor.ueba import Ueba
from ringfence.monitor.wiring import build_monitor, load_config
from ringfence.runtime import Runtime
from tests.monitor import records as R
from tests.monitor.test_ueba_apimon import CFG, T0, gw, messages

NETS = {
    "1.1.1.0/24": (13335, "Cloudflare, Inc.", "AU"),
    "8.8.8.0/24": (15169, "Google LLC", "US"),
    "9.9.9.0/24": (19281, "Quad9", "CH"),
}


def _asn_db(path: Path) -> Path:
    w = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    for net, (num, org, _) in NETS.items():
        w.insert_network(
            IPSet([net]),
            {"autonomous_system_number": num, "autonomous_system_organization": org},
        )
    w.to_db_file(str(path))
    return path


def _country_db(path: Path, kind: str = "GeoLite2-Country") -> Path:
    w = MMDBWriter(ip_version=6, database_type=kind, ipv4_compatible=True)
    for net, (_, _, cc) in NETS.items():
        w.insert_network(IPSet([net]), {"country": {"iso_code": cc, "names": {"en": cc}}})
    w.to_db_file(str(path))
    return path


@pytest.fixture
def geoip(tmp_path: Path) -> GeoIP:
    return GeoIP(_asn_db(tmp_path / "asn.mmdb"), _country_db(tmp_path / "country.mmdb"))


def test_lookups_give_asn_and_country_and_nothing_for_private_or_bad_addresses(
    geoip: GeoIP,
) -> None:
    assert geoip.lookup("1.1.1.7") == IpInfo("AS13335", "Cloudflare, Inc.", "AU")
    assert geoip.lookup("8.8.8.8") == IpInfo("AS15169", "Google LLC", "US")
    assert geoip.lookup("4.4.4.4") == IpInfo()  # not in the databases
    for ip in ("10.0.0.1", "127.0.0.1", "192.168.1.1", "::1", "not an ip", "", "1.1.1.1/24"):
        assert geoip.lookup(ip) == IpInfo(), ip
    assert geoip.lookup("::ffff:1.1.1.7").asn == "AS13335"  # IPv4-mapped: looked up as IPv4
    before = geoip._cached.cache_info().currsize
    for junk in ("x" * 50_000, "999.1.1.1", "fe80::1", "10.1.2.3"):
        assert geoip.lookup(junk) == IpInfo()
    assert geoip._cached.cache_info().currsize == before  # nothing cached for them


def test_a_city_database_serves_for_the_country(tmp_path: Path) -> None:
    g = GeoIP(country_db=_country_db(tmp_path / "city.mmdb", "GeoLite2-City"))
    assert g.lookup("9.9.9.9") == IpInfo(None, None, "CH")


@pytest.mark.parametrize(
    ("make", "key", "problem"),
    [
        (lambda p: p / "missing.mmdb", "asn_db", "does not exist"),
        (lambda p: _write(p / "junk.mmdb", b"\x00" * 64), "asn_db", "is not a MaxMind database"),
        (lambda p: _country_db(p / "c.mmdb"), "asn_db", "expected one of ASN"),
        (lambda p: _asn_db(p / "a.mmdb"), "country_db", "expected one of Country, City"),
    ],
)
def test_a_wrong_database_file_is_a_config_error_naming_it(
    tmp_path: Path, make: object, key: str, problem: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        GeoIP(**{key: path})
    assert f"geoip.{key}" in info.value.message and problem in info.value.message


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_monitor_yaml_geoip_is_checked_and_wired(runtime: Runtime, tmp_path: Path) -> None:
    data = runtime.settings.data_dir
    (data / "monitor.yaml").write_text("geoip: {asn_db: 5, city: x}\n")
    with pytest.raises(ConfigError) as info:
        load_config(data)
    assert "geoip.city: unknown key" in info.value.message
    asn = _asn_db(tmp_path / "asn.mmdb")
    (data / "monitor.yaml").write_text(f"geoip: {{asn_db: '{asn}'}}\n")
    monitor = build_monitor(runtime)
    (ueba,) = [a for a in monitor.analysers if isinstance(a, Ueba)]
    assert ueba.geoip is not None and ueba.geoip.lookup("1.1.1.1").asn == "AS13335"
    (data / "monitor.yaml").write_text(f"geoip: {{country_db: '{tmp_path / 'nope.mmdb'}'}}\n")
    with pytest.raises(ConfigError, match=r"geoip\.country_db: .* does not exist"):
        build_monitor(runtime)


def test_new_asn_and_new_country_from_geoip_are_explained(
    runtime: Runtime, clock: FixedClock, geoip: GeoIP
) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG, geoip)
    i = 0
    for h in range(72):  # three days from several Cloudflare addresses (one ASN, one country)
        t = T0 + timedelta(hours=h)
        ueba.analyse(
            [gw(t + timedelta(minutes=m), i := i + 1, client_ip=f"1.1.1.{m}") for m in range(10)]
        )
    assert messages(alerts, "ueba:new_ASN") == [] and messages(alerts, "ueba:new_IP") == []
    t = T0 + timedelta(hours=72, minutes=5)
    ueba.analyse([gw(t, i + 1, client_ip="1.1.1.200")])  # a new address, same ASN
    assert len(messages(alerts, "ueba:new_source_IP")) == 1
    assert messages(alerts, "ueba:new_ASN") == []
    ueba.analyse([gw(t + timedelta(minutes=1), i + 2, client_ip="8.8.8.8")])  # a new owner
    (asn_msg,) = messages(alerts, "ueba:new_ASN")
    assert asn_msg == "crm-sync used a new ASN AS15169 (Google LLC); 1 known in 30 days"
    (country_msg,) = messages(alerts, "ueba:new_IP_country")
    assert country_msg == "crm-sync used a new IP country US; 1 known in 30 days"
    (country_alert,) = [a for a in alerts.list(limit=100) if a.rule_id == "ueba:new_IP_country"]
    assert country_alert.severity == "high"
    assert messages(alerts, "ueba:new_country") == []  # the vendor's own field is not mixed in


def test_without_geoip_the_terms_are_unchanged(runtime: Runtime, clock: FixedClock) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG)
    ueba.analyse([gw(T0, 1, client_ip="8.8.8.8")])
    state = ueba._state("crm-sync", "terms")
    assert "ASN" not in state and "IP country" not in state and "country" not in state


CITIES = {
    "1.1.1.0/24": ("Sydney", -33.87, 151.21, 50),
    "9.9.9.0/24": ("Zurich", 47.37, 8.54, 20),
    "2.2.2.0/24": ("Paris", 48.86, 2.35, 300),
    "3.3.3.0/24": ("Berlin", 52.52, 13.40, 300),
}


def _city_db(path: Path) -> Path:
    w = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    for net, (city, lat, lon, radius) in CITIES.items():
        w.insert_network(
            IPSet([net]),
            {
                "city": {"names": {"en": city}},
                "country": {"iso_code": "XX"},
                "location": {"latitude": lat, "longitude": lon, "accuracy_radius": radius},
            },
        )
    w.to_db_file(str(path))
    return path


def _bare_signin(minutes: int, uuid: str, ip: str) -> Event:
    """An Okta sign-in without the vendor's geolocation (as GitHub's or Slack's records)."""
    rec = R.okta(uuid=uuid, published=(T0 + timedelta(minutes=minutes)).isoformat())
    rec["client"]["ipAddress"] = ip
    rec["client"].pop("geographicalContext", None)
    (event,) = parser_for("okta")(rec)
    return event


def test_impossible_travel_from_city_coordinates_minus_their_accuracy(
    runtime: Runtime, clock: FixedClock, tmp_path: Path
) -> None:
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG, GeoIP(country_db=_city_db(tmp_path / "c.mmdb")))
    assert ueba._travel(_bare_signin(0, "a", "1.1.1.1")) == []
    (found,) = ueba._travel(_bare_signin(30, "b", "9.9.9.9"))
    assert found.sentence.startswith("admin@example.com signed in from Sydney and Zurich 30 min")
    # Paris and Berlin are 878 km apart, but each location is only good to 300 km: what is
    # left (278 km) is under min_travel_km, so half an hour apart is not impossible here.
    assert ueba._travel(_bare_signin(600, "c", "2.2.2.2")) == []
    assert ueba._travel(_bare_signin(630, "d", "3.3.3.3")) == []
    # and without a database nothing is guessed
    plain = Ueba(runtime.store, clock, alerts, CFG)
    assert plain._travel(_bare_signin(900, "e", "1.1.1.1")) == []


def test_a_vendor_country_name_and_the_databases_code_are_separate_terms(
    runtime: Runtime, clock: FixedClock, geoip: GeoIP
) -> None:
    """Okta names countries ("Germany"), the database gives ISO codes ("DE"): an Okta
    sign-in without geolocation from a known place is not a "new country"."""
    alerts = AlertStore(runtime.store, clock)
    ueba = Ueba(runtime.store, clock, alerts, CFG, geoip)
    events = []
    for n in range(60):
        rec = R.okta(uuid=f"u{n}", published=(T0 + timedelta(hours=n * 2)).isoformat())
        rec["client"]["ipAddress"] = "9.9.9.9"
        rec["client"]["geographicalContext"]["country"] = "Switzerland"
        if n % 2:
            rec["client"].pop("geographicalContext")  # this sign-in came without it
        events.extend(parser_for("okta")(rec))
    ueba.analyse(events)
    assert messages(alerts, "ueba:new_country") == []
    assert messages(alerts, "ueba:new_IP_country") == []


def test_an_infinite_accuracy_radius_is_ignored(tmp_path: Path) -> None:
    w = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    w.insert_network(
        IPSet(["9.9.9.0/24"]),
        {"location": {"latitude": 47.37, "longitude": 8.54, "accuracy_radius": float("inf")}},
    )
    w.to_db_file(str(tmp_path / "c.mmdb"))
    info = GeoIP(country_db=tmp_path / "c.mmdb").lookup("9.9.9.9")
    assert info.lat == 47.37 and info.radius_km == 0.0


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    def warning(self, event: str, **kw: object) -> None:
        self.events.append((event, kw))

    info = warning


def test_an_updated_database_is_read_at_the_next_check_and_a_broken_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ringfence.monitor.geoip as geoip_module

    log = _Log()
    monkeypatch.setattr(geoip_module, "_log", log)
    clock = _Clock()
    asn = _asn_db(tmp_path / "asn.mmdb")
    g = GeoIP(asn, refresh_seconds=300, monotonic=clock)
    assert g.lookup("8.8.8.8").asn == "AS15169"

    # geoipupdate replaces the file: 8.8.8.0/24 now belongs to another network
    w = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    w.insert_network(
        IPSet(["8.8.8.0/24"]),
        {"autonomous_system_number": 64500, "autonomous_system_organization": "Example"},
    )
    w.to_db_file(str(tmp_path / "new.mmdb"))
    (tmp_path / "new.mmdb").replace(asn)
    clock.now = 299.0
    assert g.lookup("8.8.8.8").asn == "AS15169"  # not checked yet (and memoised)
    clock.now = 300.0
    assert g.lookup("8.8.8.8") == IpInfo("AS64500", "Example")  # read again, cache dropped
    assert g.lookup("1.1.1.1") == IpInfo()  # not in the new database

    # a half-copied file, then a deleted one: the database in memory stays in use
    data = (tmp_path / "asn.mmdb").read_bytes()
    _write(asn, data[: len(data) // 2])
    clock.now = 600.0
    assert g.lookup("8.8.8.8").asn == "AS64500"
    failed = [kw for event, kw in log.events if event == "geoip_reload_failed"]
    assert failed and failed[-1]["database"] == "asn_db"
    assert "is not a MaxMind database" in str(failed[-1]["problem"])
    asn.unlink()
    clock.now = 900.0
    assert g.lookup("8.8.8.8").asn == "AS64500"
    _asn_db(asn)  # the complete file again: read at the next check
    clock.now = 1200.0
    assert g.lookup("8.8.8.8").asn == "AS15169"
