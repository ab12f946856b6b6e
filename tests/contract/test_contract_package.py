"""The contract stands alone: its event types are the pipeline's, and it imports nothing of the project."""

from __future__ import annotations

import subprocess
import sys
import typing

from hallwatch import contract
from vision import state


def test_the_contracts_pipeline_event_types_are_the_pipelines() -> None:
    # The contract spells the pipeline's event types out rather than importing them (it depends on
    # pydantic only); this is what keeps the two lists the same.
    assert typing.get_args(contract.PipelineEventType) == typing.get_args(state.HallEventType)


def test_the_contracts_own_event_types_are_the_pipelines_and_the_nodes() -> None:
    assert set(typing.get_args(contract.EventType)) == set(typing.get_args(state.HallEventType)) | {
        "camera_lost",
        "camera_recovered",
    }


def test_importing_the_contract_loads_no_project_package_and_no_third_party_but_pydantic() -> None:
    # A fresh interpreter, so that what other tests imported does not count.
    code = "import sys, hallwatch.contract\nprint('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
                 .stdout.split())  # fmt: skip
    assert not loaded & {"vision", "edge", "server", "models", "numpy", "paho", "fastapi", "yaml", "click"}
    third_party = {
        m for m in loaded - set(sys.stdlib_module_names) if not m.startswith("_") and m != "hallwatch"
    }
    assert third_party <= {
        "pydantic",
        "pydantic_core",
        "typing_extensions",
        "typing_inspection",
        "annotated_types",
    }
