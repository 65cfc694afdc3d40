"""The built-in workflows of ``runyard dev``: ``img2img`` and ``echo`` (contract section 8).

Their code runs on the agent (``runyard_agent.builtins``); the server only knows the entrypoint.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from runyard.clock import SystemClock
from runyard.workflows.schemas import WorkflowDefinition
from runyard.workflows.service import WorkflowService

BUILTINS: list[dict[str, object]] = [
    {
        "workflow_slug": "img2img",
        "display_name": "Image to image",
        "description": "Applies an operation to an image and returns one PNG.",
        "tool_type": "python",
        "workflow_json": {"entrypoint": "runyard_agent.builtins.img2img:run"},
        "required_labels": ["cpu"],
        "task_timeout": 300,
        "max_retries": 2,
        "parameters": [
            {
                "key": "input_image",
                "type": "file",
                "label": "Input image",
                "required": True,
                "accept": ["image/*"],
            },
            {
                "key": "prompt",
                "type": "select",
                "label": "Operation",
                "default": "enhance",
                "options": ["enhance", "grayscale", "blur", "sharpen", "invert", "autocontrast"],
            },
            {
                "key": "strength",
                "type": "number",
                "label": "Strength",
                "default": 0.5,
                "min": 0,
                "max": 1,
            },
        ],
    },
    {
        "workflow_slug": "echo",
        "display_name": "Echo",
        "description": "Returns a copy of its input file.",
        "tool_type": "python",
        "workflow_json": {"entrypoint": "runyard_agent.builtins.echo:run"},
        "required_labels": ["cpu"],
        "task_timeout": 300,
        "max_retries": 2,
        "parameters": [
            {"key": "input_file", "type": "file", "label": "Input file", "required": True},
        ],
    },
]


async def register_builtins(session: AsyncSession, team_id: str) -> None:
    service = WorkflowService(session, SystemClock())
    for raw in BUILTINS:
        await service.import_definition(team_id, WorkflowDefinition.model_validate(raw))
