"""`sentinelle zones import|list`, `sentinelle places import` and `sentinelle risk show`:
boundaries, place names, the zone ranking."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from api.cli.main import fail, migrate, now, run
from api.cli.skill import backtest_command, backtest_options
from api.settings import Settings
from geo.gazetteer import (
    IMPORTED_PLACES_FILE,
    Gazetteer,
    PlaceFileError,
    PlaceRecord,
    parse_place_file,
    read_places,
    write_places,
)
from geo.geometry import GeometryError
from geo.zones import ZONE_KINDS, zones_from_geojson
from incidents.db import Database
from incidents.risk.model import LEVEL_LABELS
from incidents.risk.service import RiskService, StoredRisk, risk_config
from incidents.zones.store import ZoneImport, ZoneStore, ensure_default_zones, import_zones


def read_zone_file(
    path: Path, *, name_field: str | None, code_field: str | None, kind: str | None
) -> tuple[list[Any], list[str]]:
    """Parse a GeoJSON file of zones; raises ValueError with a message for the user."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path} is not GeoJSON (invalid JSON at line {exc.lineno}): nothing was imported"
        ) from exc
    try:
        zones, report = zones_from_geojson(doc, name_field=name_field, code_field=code_field)
    except GeometryError as exc:
        raise ValueError(f"{path}: {exc.field}: {exc.message}; nothing was imported") from exc
    if kind is not None:
        zones = [replace(z, kind=kind) for z in zones]
    return zones, report


async def import_zone_file(
    db: Database,
    settings: Settings,
    path: Path,
    *,
    name_field: str | None = None,
    code_field: str | None = None,
    kind: str | None = None,
    progress: Any = None,
) -> ZoneImport:
    """Everything `sentinelle zones import` does: migrate, store zones, re-assign, re-score."""
    zones, report = read_zone_file(path, name_field=name_field, code_field=code_field, kind=kind)
    await migrate(db)
    when = now()
    await ensure_default_zones(db, settings, now=when)
    result = await import_zones(
        db, zones, report, now=when, progress=progress, grid_degrees=settings.mask_grid_degrees
    )
    service = RiskService(
        db, config=risk_config(settings), retention_days=settings.data_retention_days
    )
    await service.recompute_all(now=when, cause=f"zones imported from {path.name}")
    return result


def register(main: click.Group) -> None:
    @main.group()
    def zones() -> None:
        """Zones: import official boundaries, list them."""

    @zones.command("import")
    @click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
    @click.option("--name-field", default=None, help="Property with the zone name (e.g. ADM2_FR).")
    @click.option(
        "--code-field", default=None, help="Property with the zone code (e.g. ADM2_PCODE)."
    )
    @click.option(
        "--kind",
        type=click.Choice(ZONE_KINDS),
        default=None,
        help="Zone kind (detected from COD-AB fields; custom otherwise).",
    )
    @click.pass_obj
    def import_cmd(
        settings: Settings,
        file: Path,
        name_field: str | None,
        code_field: str | None,
        kind: str | None,
    ) -> None:
        """Import zones from GeoJSON (OCHA COD-AB fields detected) and re-assign incidents."""
        from rich.progress import Progress

        try:
            read_zone_file(file, name_field=name_field, code_field=code_field, kind=kind)
        except ValueError as exc:
            fail(str(exc))
        with Progress(transient=True) as bar:
            task = bar.add_task("Re-assigning incidents to zones", total=None)
            result = run(
                lambda db: import_zone_file(
                    db,
                    settings,
                    file,
                    name_field=name_field,
                    code_field=code_field,
                    kind=kind,
                    progress=lambda n: bar.advance(task, n),
                ),
                settings,
            )
        for line in result.repairs:
            click.echo(f"repaired: {line}", err=True)
        click.echo(
            f"Zones: {result.created} added, {result.updated} replaced, {len(result.repairs)} "
            f"repaired; {result.links} incident-zone links.",
            err=True,
        )

    @zones.command("list")
    @click.pass_obj
    def list_cmd(settings: Settings) -> None:
        """List the zones with their kind and current level."""
        rows = run(lambda db: _ranking(db, settings), settings)
        _print_table(rows, title="Zones")

    @main.group()
    def places() -> None:
        """Place names: import a gazetteer (OCHA COD populated places, GeoNames)."""

    @places.command("import")
    @click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
    @click.option(
        "--country",
        default="ML",
        show_default=True,
        help="GeoNames files: keep the populated places of this country (ISO 3166 alpha-2).",
    )
    @click.pass_obj
    def places_import_cmd(settings: Settings, file: Path, country: str) -> None:
        """Add the places of FILE to the gazetteer (same source id: replaced).

        FILE is the OCHA COD populated places CSV (featureNam, popPlaceCl, latitude,
        longitude...) or a GeoNames tab-separated dump (ML.txt, allCountries.txt). The places
        go to places.csv in the data directory; the packaged names keep precedence.
        """
        from rich.progress import Progress

        target = settings.var_path / IMPORTED_PLACES_FILE
        with Progress(transient=True) as bar:
            task = bar.add_task(f"Reading {file.name}", total=None)
            try:
                result = import_places(
                    file, target, country=country, progress=lambda n: bar.advance(task, n)
                )
            except ValueError as exc:
                fail(str(exc))
        click.echo(
            f"Places: {result.read} read from {file.name} ({result.format} format), "
            f"{result.skipped} skipped (not populated places of {country.upper()}); "
            f"{result.imported} imported places in {target} ({result.added} new), "
            f"{result.known} places in the gazetteer with the packaged ones. "
            "Restart `sentinelle serve` to use them.",
            err=True,
        )

    @main.group()
    def risk() -> None:
        """Zone risk."""

    @risk.command("show")
    @click.option("--kind", type=click.Choice(ZONE_KINDS), default=None, help="Only this kind.")
    @click.option(
        "--recompute/--stored",
        default=True,
        show_default=True,
        help="Re-score every zone now before showing (decay since the last run).",
    )
    @click.pass_obj
    def show_cmd(settings: Settings, kind: str | None, recompute: bool) -> None:
        """Print the zones, most dangerous first."""
        rows = run(lambda db: _ranking(db, settings, recompute=recompute), settings)
        _print_table([r for r in rows if kind is None or r[0].kind == kind], title="Risk by zone")

    @risk.command("backtest")
    @backtest_options
    @click.pass_obj
    def backtest_cmd(settings: Settings, **options: Any) -> None:
        """Walk-forward backtest of the risk model on the database: table and PNG chart."""
        backtest_command(settings, **options)


async def _ranking(
    db: Database, settings: Settings, *, recompute: bool = False
) -> list[tuple[StoredRisk, bool]]:
    """Every zone's stored risk, most dangerous first, and whether it has data (coverage)."""
    from api.bootstrap import build

    await migrate(db)
    when = now()
    service = build(settings, db).risk  # the server's: demo mode, coverage rule
    if await ensure_default_zones(db, settings, now=when) or recompute:
        await service.recompute_all(now=when)
    async with db.read() as session:
        await ZoneStore(session).count()
    ranking = await service.ranking()
    covered = await service.coverage([r.zone_id for r in ranking], now=when)
    return [(r, covered[r.zone_id].has_data if r.zone_id in covered else True) for r in ranking]


def _print_table(rows: list[tuple[StoredRisk, bool]], *, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("zone", "name", "kind", "level", "score", "trend"):
        table.add_column(col, justify="right" if col == "score" else "left")
    for r, has_data in rows:
        fr, en = LEVEL_LABELS[r.level]
        level = f"{r.level} {fr} / {en}" if has_data else "— pas de données / no data"
        table.add_row(r.code, r.name, r.kind, level, f"{r.score:.2f}", r.trend)
    Console().print(table)


@dataclass(frozen=True)
class PlacesImport:
    format: str
    read: int
    skipped: int
    imported: int
    added: int
    known: int


def _place_key(record: PlaceRecord) -> tuple[str, ...]:
    loc = record.locality
    if ":" in loc.source:
        return (loc.source,)
    return (loc.name, f"{loc.lat:.5f}", f"{loc.lon:.5f}")


def import_places(
    file: Path, target: Path, *, country: str = "ML", progress: Any = None
) -> PlacesImport:
    """Merge the places of `file` into the imported places file `target`, whole or not at all.

    Raises ValueError with a message for the user (nothing is written then).
    """
    try:
        with file.open("r", encoding="utf-8-sig", newline="") as fh:
            fmt, records, skipped = parse_place_file(fh, country=country, progress=progress)
    except OSError as exc:
        raise ValueError(f"cannot read {file}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{file} is not UTF-8 text (byte {exc.start}): save it as UTF-8; nothing was imported"
        ) from exc
    except PlaceFileError as exc:
        raise ValueError(f"{file}: {exc.where}: {exc.message}; nothing was imported") from exc
    if not records:
        raise ValueError(
            f"{file}: no populated place of {country.upper()} in it; nothing was imported"
        )
    merged: dict[tuple[str, ...], PlaceRecord] = {}
    if target.is_file():
        with target.open("r", encoding="utf-8", newline="") as fh:
            merged = {_place_key(r): r for r in read_places(fh)}
    before = len(merged)
    merged.update((_place_key(r), r) for r in records)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_text(write_places(merged.values()), encoding="utf-8")
    os.replace(partial, target)  # readers see the old file or the new one, never half of it
    known = len(Gazetteer.load(target))
    return PlacesImport(fmt, len(records), skipped, len(merged), len(merged) - before, known)
