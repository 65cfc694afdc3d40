"""``python -m runyard_testing.comfyui_standin --port N``: serve the stand-in until stopped."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import uvicorn

import runyard_testing.comfyui_standin.console as console
from runyard_testing.comfyui_standin.app import StandinOptions, create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runyard_testing.comfyui_standin")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8188)
    parser.add_argument("--data-dir", type=Path, help="input/output/temp folders (default: temp)")
    parser.add_argument("--node-delay", type=float, default=0.0, help="seconds each node takes")
    parser.add_argument("--fail-health", action="store_true", help="/system_stats answers 500")
    parser.add_argument(
        "--extra-messages", action="store_true", help="send binary previews and unknown messages"
    )
    parser.add_argument(
        "--preview-size",
        type=int,
        default=0,
        help="sampler-like nodes (ImageBlur) send live previews of a SIZE x SIZE picture, scaled "
        "to fit --max-preview-size (0: none)",
    )
    parser.add_argument(
        "--max-preview-size",
        type=int,
        default=512,
        help="ComfyUI's own --preview-size: every preview is scaled to fit SIZE x SIZE",
    )
    parser.add_argument(
        "--preview-every-node",
        action="store_true",
        help="a test aid, not ComfyUI: one noise preview as each node starts (any graph)",
    )
    args = parser.parse_args(argv)
    console.setup()
    with tempfile.TemporaryDirectory(prefix="comfyui-standin-") as scratch:
        options = StandinOptions(
            data_dir=args.data_dir or Path(scratch),
            node_delay=args.node_delay,
            fail_health=args.fail_health,
            extra_messages=args.extra_messages,
            preview_size=args.preview_size,
            preview_every_node=args.preview_every_node,
            max_preview_size=args.max_preview_size,
        )
        uvicorn.run(
            create_app(options),
            host=args.host,
            port=args.port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )


if __name__ == "__main__":
    main()
