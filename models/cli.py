"""`hallwatch models`: list, verify and export the detector models."""

from __future__ import annotations

import sys

import click

from models.catalog import CATALOG, ModelError, file_sha256, spec_for, verified_weights, weights_path
from models.export import cache_dir, cached_exports, export_openvino
from models.quantize import export_openvino_int8


@click.group("models")
def cli() -> None:
    """List, verify and export the detector models (weights come from installed packages)."""


@cli.command("list")
def list_models() -> None:
    """Show the catalog: where each model's weights come from and whether they are installed."""
    for spec in CATALOG.values():
        try:
            where = str(weights_path(spec))
        except ModelError:
            where = f"not installed ({spec.install_hint})"
        click.echo(f"{spec.name}")
        click.echo(f"  weights:   {where}")
        click.echo(f"  package:   {spec.package}=={spec.package_version}  file {spec.file}")
        click.echo(f"  sha256:    {spec.sha256}")
        click.echo(f"  licence:   {spec.licence}")
        click.echo(f"  classes:   {', '.join(spec.classes)}; {spec.keypoints} keypoints")
    exports = cached_exports()
    click.echo(f"OpenVINO exports in {cache_dir()}: {len(exports)}")
    for path in exports:
        click.echo(f"  {path.name}")


@cli.command()
@click.argument("name", required=False)
def verify(name: str | None) -> None:
    """Check that the weights are installed and match the catalog's sha256."""
    try:
        specs = [spec_for(name)] if name else list(CATALOG.values())
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    failed = False
    for spec in specs:
        try:
            path = verified_weights(spec)
            click.echo(f"ok      {spec.name}  {path}  sha256 {file_sha256(path)[:16]}…")
        except ModelError as exc:
            failed = True
            click.echo(f"FAILED  {spec.name}: {exc}", err=True)
    sys.exit(1 if failed else 0)


@cli.command()
@click.argument("name", default="yolo11n-pose")
@click.option(
    "--imgsz",
    type=click.IntRange(160, 2048),
    multiple=True,
    default=(960,),
    show_default=True,
    help="Repeat for several.",
)
@click.option("--int8", is_flag=True, help="Also quantize to INT8 with NNCF (backend: openvino-int8).")
def export(name: str, imgsz: tuple[int, ...], int8: bool) -> None:
    """Export a model to OpenVINO for the given sizes (otherwise done on first use)."""
    for size in imgsz:  # all checked before the first (slow) export
        if size % 32:
            raise click.BadParameter(f"{size} is not a multiple of 32", param_hint="--imgsz")
    try:
        spec = spec_for(name)
        weights = verified_weights(spec)
        for size in imgsz:
            click.echo(f"{spec.name} imgsz {size}: {export_openvino(spec, weights, size)}")
            if int8:
                click.echo(f"{spec.name} imgsz {size} INT8: {export_openvino_int8(spec, weights, size)}")
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
