"""``POST /prompt`` validation with ComfyUI's error shapes (execution.py ``validate_prompt``).

Returns the top-level ``error`` and the ``node_errors`` map exactly as the HTTP 400 body carries
them; outputs whose inputs validate are run even when others fail (ComfyUI does the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runyard_testing.comfyui_standin.nodes import NODES, Folders, InputSpec


@dataclass
class Validation:
    error: dict[str, Any] | None = None
    good_outputs: list[str] = field(default_factory=list)
    node_errors: dict[str, Any] = field(default_factory=dict)


def _error(kind: str, message: str, details: str = "", **extra: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def convert_value(spec: InputSpec, value: Any) -> Any:
    if spec.kind == "INT":
        return int(value)
    if spec.kind == "FLOAT":
        return float(value)
    if spec.kind in ("STRING", "COMBO"):
        return str(value)
    if spec.kind == "BOOLEAN":
        return bool(value)
    return value


def _check_value(
    name: str, spec: InputSpec, value: Any, folders: Folders, *, custom: bool
) -> dict[str, Any] | None:
    """ComfyUI's ``validate_inputs`` for a literal: convert, then (unless the node validates
    this input itself, ``custom``) min/max and the combo list. ``input_config`` is the full
    ``[type, options]`` pair of ``/object_info``."""
    config = spec.info(folders)
    info = {"input_name": name, "input_config": config, "received_value": value}
    try:
        value = convert_value(spec, value)
    except (TypeError, ValueError) as exc:
        return _error(
            "invalid_input_type",
            f"Failed to convert an input value to a {spec.kind} value",
            f"{name}, {value}, {exc}",
            **info,
            exception_message=str(exc),
        )
    if custom:
        return None
    if spec.min is not None and value < spec.min:
        return _error(
            "value_smaller_than_min",
            f"Value {value} smaller than min of {spec.config['min']}",
            name,
            **{**info, "received_value": value},
        )
    if spec.max is not None and value > spec.max:
        return _error(
            "value_bigger_than_max",
            f"Value {value} bigger than max of {spec.config['max']}",
            name,
            **{**info, "received_value": value},
        )
    options = spec.options(folders)
    if options is not None and value not in options:
        # ComfyUI leaves long lists (scanned model files) out of the answer.
        listed = f"(list of length {len(options)})" if len(options) > 20 else str(options)
        return _error(
            "value_not_in_list",
            "Value not in list",
            f"{name}: '{value}' not in {listed}",
            input_name=name,
            input_config=config if len(options) <= 20 else None,
            received_value=value,
        )
    return None


_LITERAL_KINDS = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "*"})


class _Validator:
    def __init__(self, graph: dict[str, Any], folders: Folders) -> None:
        self.graph = graph
        self.folders = folders
        self.validated: dict[str, tuple[bool, list[dict[str, Any]]]] = {}

    def node(self, node_id: str) -> bool:
        if node_id in self.validated:
            return self.validated[node_id][0]
        self.validated[node_id] = (True, [])  # guards against cycles
        node = self.graph[node_id]
        spec = NODES[node["class_type"]]
        inputs = node.get("inputs") or {}
        errors: list[dict[str, Any]] = []
        valid = True
        present_optional = {n: o for n, o in spec.optional.items() if n in inputs}
        for name, input_spec in {**spec.required, **present_optional}.items():
            if name not in inputs:
                errors.append(
                    _error(
                        "required_input_missing", "Required input is missing", name, input_name=name
                    )
                )
                continue
            value = inputs[name]
            if isinstance(value, list):
                link_error = self._check_link(name, input_spec, value)
                if link_error is not None:
                    errors.append(link_error)
                elif not self.node(str(value[0])):
                    valid = False
                continue
            if input_spec.kind not in _LITERAL_KINDS:
                errors.append(
                    _error(
                        "invalid_input_type",
                        f"Failed to convert an input value to a {input_spec.kind} value",
                        f"{name}, {value}",
                        input_name=name,
                        input_config=input_spec.info(self.folders),
                        received_value=value,
                    )
                )
                continue
            custom = spec.validate is not None and name == next(iter(spec.required))
            problem = _check_value(name, input_spec, value, self.folders, custom=custom)
            if problem is not None:
                errors.append(problem)
        if not errors and spec.validate is not None:
            reason = spec.validate(self.folders, inputs)
            if reason is not True:
                name = next(iter(spec.required))
                details = name if reason is False else f"{name} - {reason}"
                errors.append(
                    _error(
                        "custom_validation_failed",
                        "Custom validation failed for node",
                        details,
                        input_name=name,
                    )
                )
        result = (valid and not errors, errors)
        self.validated[node_id] = result
        return result[0]

    def _check_link(self, name: str, spec: InputSpec, value: list[Any]) -> dict[str, Any] | None:
        if len(value) != 2 or str(value[0]) not in self.graph or not isinstance(value[1], int):
            return _error(
                "bad_linked_input",
                "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                name,
                input_name=name,
                input_config=spec.info(self.folders),
                received_value=value,
            )
        source = self.graph[str(value[0])]["class_type"]
        returns = NODES[source].return_types
        received = returns[value[1]] if 0 <= value[1] < len(returns) else "*"
        if "*" not in (received, spec.kind) and received != spec.kind:
            return _error(
                "return_type_mismatch",
                "Return type mismatch between linked nodes",
                f"{name}, received_type({received}) mismatch input_type({spec.kind})",
                input_name=name,
                input_config=spec.info(self.folders),
                received_type=received,
                linked_node=value,
            )
        return None


def validate_prompt(graph: dict[str, Any], folders: Folders) -> Validation:
    for node_id, node in graph.items():
        if not isinstance(node, dict) or "class_type" not in node:
            return Validation(
                _error(
                    "invalid_prompt",
                    "Cannot execute because a node is missing the class_type property.",
                    f"Node ID '#{node_id}'",
                )
            )
        if node["class_type"] not in NODES:
            return Validation(
                _error(
                    "invalid_prompt",
                    f"Cannot execute because node {node['class_type']} does not exist.",
                    f"Node ID '#{node_id}'",
                )
            )
    outputs = [node_id for node_id, node in graph.items() if NODES[node["class_type"]].output_node]
    if not outputs:
        return Validation(_error("prompt_no_outputs", "Prompt has no outputs"))

    validator = _Validator(graph, folders)
    result = Validation()
    for output in outputs:
        if validator.node(output):
            result.good_outputs.append(output)
            continue
        for node_id, (ok, reasons) in validator.validated.items():
            # Downstream nodes of a broken node are invalid without reasons: not reported.
            if ok or not reasons:
                continue
            entry = result.node_errors.setdefault(
                node_id,
                {
                    "errors": reasons,
                    "dependent_outputs": [],
                    "class_type": graph[node_id]["class_type"],
                },
            )
            if output not in entry["dependent_outputs"]:
                entry["dependent_outputs"].append(output)
    if not result.good_outputs:
        result.error = _error(
            "prompt_outputs_failed_validation",
            "Prompt outputs failed validation",
        )
    return result
