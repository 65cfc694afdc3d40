from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator, model_validator

from runyard.files.schemas import SHA256_PATTERN, plain_sha256
from runyard.pagination import PageMeta
from runyard.workflows.bounds import comfyui_graph_problem
from runyard.workflows.bundles import bundle_problem
from runyard.workflows.comfyui import comfyui_graph, wrapper_problem
from runyard.workflows.python_preflight import requirements_problem

SLUG_RE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
ParamType = Literal["string", "number", "boolean", "select", "file"]
TYPE_FIELDS: dict[str, set[str]] = {
    "string": {"max_length"},
    "number": {"min", "max", "integer"},
    "boolean": set(),
    "select": {"options"},
    "file": {"accept"},
}


class ParameterDef(BaseModel):
    """One declared parameter (contract section 3)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    type: ParamType
    label: str = ""
    description: str = ""
    required: bool = False
    default: Any = None
    max_length: int | None = Field(default=None, ge=1, le=1_000_000)
    min: float | None = None
    max: float | None = None
    integer: bool | None = None
    options: list[str] | None = None
    accept: list[str] | None = None
    node_id: str | None = Field(default=None, max_length=100)
    field: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _per_type(self) -> ParameterDef:
        allowed = TYPE_FIELDS[self.type]
        for name in ("max_length", "min", "max", "integer", "options", "accept"):
            value = getattr(self, name)
            if value not in (None, False) and name not in allowed:
                raise ValueError(f"parameter {self.key!r}: `{name}` does not apply to {self.type}")
        if self.type == "select" and not self.options:
            raise ValueError(f"parameter {self.key!r}: a select needs a non-empty `options` list")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"parameter {self.key!r}: min is greater than max")
        if self.type == "file" and self.default is not None:
            raise ValueError(f"parameter {self.key!r}: a file parameter cannot have a default")
        if (self.node_id is None) != (self.field is None):
            raise ValueError(f"parameter {self.key!r}: a binding needs both node_id and field")
        return self


class WorkflowDefinition(BaseModel):
    """What `POST /workflows/import` takes (also the YAML/JSON file format of the CLI)."""

    model_config = ConfigDict(extra="forbid")

    workflow_slug: str = Field(min_length=2, max_length=100, pattern=SLUG_RE)
    display_name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    tool_type: Literal["python", "comfyui"]
    workflow_json: dict[str, Any]
    parameters: list[ParameterDef] = Field(default_factory=list)
    required_labels: list[str] = Field(default_factory=list)
    task_timeout: int = Field(default=600, ge=1, le=7 * 86_400)
    max_retries: int = Field(default=2, ge=0, le=20)
    priority: int = Field(
        default=0,
        ge=-10,
        le=10,
        description="The priority of its runs when a run names none: -10 (last) to 10 (first).",
    )
    workflow_status: Literal["active", "disabled"] = "active"

    @model_validator(mode="after")
    def _consistent(self) -> WorkflowDefinition:
        keys = [p.key for p in self.parameters]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise ValueError(f"duplicate parameter keys: {sorted(dupes)}")
        for label in self.required_labels:
            if not re.match(r"^[A-Za-z0-9_.:-]{1,64}$", label):
                raise ValueError(f"invalid label {label!r}")
        if self.tool_type == "python":
            entry = self.workflow_json.get("entrypoint")
            if not isinstance(entry, str) or not re.match(r"^[\w.]+:[\w]+$", entry):
                raise ValueError(
                    "a python workflow needs workflow_json "
                    '{"entrypoint": "package.module:function"}'
                )
            problem = bundle_problem(self.workflow_json) or requirements_problem(self.workflow_json)
            if problem:
                raise ValueError(problem)
        else:
            graph = comfyui_graph(self.workflow_json)
            problem = wrapper_problem(self.workflow_json) or comfyui_graph_problem(graph)
            if problem:
                raise ValueError(problem)
            for p in self.parameters:
                if p.node_id is None or p.field is None:
                    raise ValueError(f"comfyui parameter {p.key!r} needs node_id and field")
                node = graph.get(p.node_id)
                if not isinstance(node, dict) or "class_type" not in node:
                    known = ", ".join(sorted(graph, key=str)[:20])
                    raise ValueError(
                        f"parameter {p.key!r} is bound to node {p.node_id!r}, which is not in "
                        f"the graph (its nodes: {known})"
                    )
                if p.field not in (node.get("inputs") or {}):
                    raise ValueError(
                        f"parameter {p.key!r}: node {p.node_id!r} ({node['class_type']}) has no "
                        f"input {p.field!r}"
                    )
        return self


class BundlePresign(BaseModel):
    """`POST /workflows/bundles/presign`: a deployed workflow's code, a tar.gz."""

    file_name: str = Field(default="bundle.tar.gz", min_length=1, max_length=255)
    file_size: StrictInt = Field(ge=1, description="Exact size in bytes; the PUT must send it.")
    sha256: str = Field(pattern=SHA256_PATTERN, description="The bundle's sha256 (required).")

    _plain = field_validator("sha256")(plain_sha256)


class WorkflowUpdate(BaseModel):
    """`PUT /workflows/{id}`: any subset; every change makes a new version."""

    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    tool_type: Literal["python", "comfyui"] | None = None
    workflow_json: dict[str, Any] | None = None
    parameters: list[ParameterDef] | None = None
    required_labels: list[str] | None = None
    task_timeout: int | None = Field(default=None, ge=1, le=7 * 86_400)
    max_retries: int | None = Field(default=None, ge=0, le=20)
    priority: int | None = Field(default=None, ge=-10, le=10)
    workflow_status: Literal["active", "disabled"] | None = None


class WorkflowRead(BaseModel):
    id: str
    workflow_slug: str
    display_name: str
    description: str
    version: int
    latest_version: int
    tool_type: str
    parameters: list[dict[str, Any]]
    required_labels: list[str]
    task_timeout: int
    max_retries: int
    priority: int = 0
    workflow_status: str
    created_at: datetime
    updated_at: datetime
    workflow_json: dict[str, Any] | None = Field(
        default=None, description="Omitted for sk-/dk- callers on runtime reads."
    )


class WorkflowList(BaseModel):
    workflow_list: list[WorkflowRead]
    page_meta: PageMeta


class RunRequest(BaseModel):
    parameters: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = Field(
        default=None,
        ge=-10,
        le=10,
        description="-10 (last) to 10 (first); default: the workflow's priority, else 0. "
        "A task of priority p is ranked as if submitted p minutes earlier, so a task is never "
        "overtaken by one submitted more than 20 minutes after it.",
    )


class RunValidated(BaseModel):
    parameters: dict[str, Any] = Field(
        description="What the run would get: defaults filled in, declared files as declared."
    )


class RunAccepted(BaseModel):
    task_id: str
