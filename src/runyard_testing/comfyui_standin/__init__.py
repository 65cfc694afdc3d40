"""A ComfyUI stand-in: a real HTTP + WebSocket server that answers like ComfyUI 0.3.64.

Start it as ``python -m runyard_testing.comfyui_standin --port N [--fail-health]
[--node-delay SECONDS] [--extra-messages] [--data-dir DIR]`` (``DIR`` holds ``input/``,
``output/``, ``temp/``, ``models/<folder>/`` and ``custom_nodes/``, so tests can look at its
files). It is a protocol peer for tests of the agent's ``comfyui`` runtime, written from
``/work/shared/notes/comfyui-protocol.md``; it runs model-free nodes with Pillow and is no
substitute for the real server.

What each part reproduces (observed behaviour from the note):

- ``GET /system_stats``: the ``system`` + ``devices`` shape (``--fail-health`` answers 500).
- ``POST /upload/image``: multipart field ``image``; same name + different bytes without
  ``overwrite`` is renamed ``photo (1).png`` (same bytes reuse the name); no ``image`` → 400 with
  an empty body; content is not checked.
- ``POST /prompt``: 200 ``{"prompt_id", "number", "node_errors"}``; a client-chosen ``prompt_id``
  is used verbatim; validation failures → 400 ``{"error", "node_errors"}`` with ComfyUI's types
  (``invalid_prompt`` for an unknown or missing ``class_type``, ``prompt_no_outputs``,
  ``prompt_outputs_failed_validation`` with node errors ``required_input_missing``,
  ``value_bigger_than_max``/``value_smaller_than_min`` (ImageBlur ``blur_radius`` 1..31,
  ``sigma`` 0.1..10), ``value_not_in_list``, ``invalid_input_type``, ``return_type_mismatch``,
  ``custom_validation_failed`` for LoadImage of a file that is not uploaded); nothing is sent on the
  socket for a rejected prompt; a body that is not JSON or a non-dict prompt → 500 text/plain.
- Nodes (``nodes.py``): the model-free image nodes, batch nodes (``ImageBatch``,
  ``RepeatImageBatch``, ``ImageFromBatch``), primitives, output nodes of every kind a runtime must
  collect (``SaveImage``, ``PreviewImage``, ``SaveAnimatedWEBP``/``SaveAnimatedPNG``,
  ``CreateVideo`` + ``SaveVideo``, ``PreviewAny`` text, ``SaveImageWebsocket`` binary frames,
  VideoHelperSuite's ``VHS_VideoCombine`` ``gifs``) and model loaders whose name lists are the
  files under ``models/<folder>``. Images are float32 as in ComfyUI, so SaveImage truncates
  exactly as the real numpy path does (an inversion is one lower in ~62 % of values).
- ``GET /object_info`` (``/object_info/{class}``): inputs as ``[type, {default, min, max,
  step…}]``; ``GET /models`` (folder names, with the non-model ``configs`` and ``custom_nodes``
  as on the real server), ``GET /models/{folder}`` (file names, 404 unknown; ``custom_nodes``
  lists every file under ``DIR/custom_nodes``, where an ``example_node.py.example`` is seeded).
- Custom nodes (``custom_nodes.py``): at start, ``DIR/custom_nodes/*`` is imported as ComfyUI's
  ``init_external_custom_nodes`` does (folders through their ``__init__.py``, ``.py`` files,
  never ``__pycache__`` or ``*.disabled``) and each class of ``NODE_CLASS_MAPPINGS`` (its
  ``INPUT_TYPES``, ``RETURN_TYPES``, ``FUNCTION``) becomes a node class in ``/object_info``;
  each start appends a line to ``DIR/standin-starts.log`` (tests count restarts).
- Validation bodies: full ``input_config``; ``received_value`` only where ComfyUI sends it (not
  for ``custom_validation_failed``); ``prompt_outputs_failed_validation`` with empty details.
- Execution: one worker, one prompt at a time (a second prompt stays pending); events only to the
  socket whose ``clientId`` equals the prompt's ``client_id`` (none without one): ``status``
  (broadcast; the first per socket carries ``sid``), ``execution_start``, ``execution_cached``,
  ``progress_state``, ``executing``, ``progress`` (ImageBlur reports 4 steps), ``executed``,
  ``execution_success`` / ``execution_error`` / ``execution_interrupted``, then the ``status``
  broadcast, then the final ``executing`` ``{"node": null, "prompt_id"}`` (no ``display_node``)
  after the history entry is written; ``progress_state`` values are floats, and a cached output
  node's replayed ``executed`` is followed by a ``progress_state`` marking it finished.
- Run-time errors are real ones: SaveImage with a ``filename_prefix`` that leaves the output folder
  (``../x``) raises as ComfyUI does → ``execution_error`` with type, message and traceback.
- ``POST /interrupt`` (optional ``prompt_id``, acts only on the running prompt) is cooperative:
  checked before each node and in progress callbacks; ``--node-delay`` slows every node so tests
  can interrupt mid-run.
- ``GET /queue`` items ``[number, prompt_id, graph, extra_data, outputs]``; ``POST /queue
  {"delete": [...]}`` removes pending prompts.
- ``GET /history/{id}`` (``{}`` for unknown ids, in memory); ``GET /view`` (Range via Starlette,
  404 empty for a missing file, 400 on ``..``).
- Caching across prompts by input signature (LoadImage hashes its file): an identical graph runs
  nothing and replays the old file names in ``executed``.
- ``filename_prefix`` ``probe/out`` → subfolder ``probe``, ``out_00001_.png``.
- ``--extra-messages`` adds what other ComfyUI installs send: binary preview frames and an unknown
  message type (``crystools.monitor``) during ImageBlur.
- ``--preview-size N`` makes ImageBlur act like a sampler with ``--preview-method`` on: after
  each ``progress`` message a binary frame (event 1 PREVIEW_IMAGE, format 1 JPEG) with an
  N x N picture of its input emerging from noise, scaled as ComfyUI scales every preview to fit
  ``--max-preview-size`` (ComfyUI's ``--preview-size``, default 512; up or down, aspect kept):
  N = 48 arrives as a 512 x 512 JPEG; N = 800 with ``--max-preview-size 1024`` gives previews
  over 256 KiB.
  ``--preview-every-node`` (a test aid, not ComfyUI) also sends one noise preview as each node
  starts, so any graph shows previews.

Not ComfyUI: ``POST /_standin/drop_sockets`` closes every socket (a network blip for tests).
"""

from runyard_testing.comfyui_standin.app import StandinOptions, create_app

__all__ = ["StandinOptions", "create_app"]
