"""Runyard's Python SDK and the client half of the ``runyard`` command.

::

    from pathlib import Path
    from runyard_client import Client

    with Client("http://127.0.0.1:8000", "sk-...") as client:
        task = client.run("img2img", {"input_image": Path("photo.png"), "prompt": "blur"})
        task.wait(on_progress=lambda e: print(e.event, e.progress))
        print(task.download("out/"))

``AsyncClient`` has the same API with ``await``. Errors are documented in ``RunyardError``'s
module (``runyard_client._errors``); every name exported here is listed in ``__all__``.
"""

from runyard_client._async_client import AsyncClient
from runyard_client._bundles import BundleError
from runyard_client._client import Client
from runyard_client._config import Profile, delete_profile, load_profile, profile_path, save_profile
from runyard_client._deploy import Deployed
from runyard_client._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ChecksumMismatch,
    ConflictError,
    FileTooLarge,
    GoneError,
    IdempotencyKeyReused,
    InvalidParameters,
    NotFoundError,
    OutputsExpired,
    PermissionDeniedError,
    RateLimited,
    RunyardError,
    ServerError,
    TaskFailed,
    TransportError,
    TunnelRefused,
    UploadError,
    WaitTimeout,
)
from runyard_client._models import (
    AcceptedInvitation,
    Agent,
    CancelResult,
    CreatedCredential,
    CreatedInvitation,
    Credential,
    Invitation,
    LibraryModel,
    Member,
    NodePackage,
    Page,
    PageMeta,
    PairingPolled,
    PairingStarted,
    PresignedUpload,
    TaskEvent,
    TaskInfo,
    TaskOutput,
    TaskResult,
    TeamInfo,
    TokenPair,
    User,
    Workflow,
)
from runyard_client._sse import log_lines
from runyard_client._tasks import AsyncTask, Task
from runyard_client._tunnels import Tunnel, forward_tcp
from runyard_client._webhooks import CreatedWebhook, Webhook, WebhookDelivery, WebhookTest

__all__ = [
    "APIError",
    "AcceptedInvitation",
    "Agent",
    "AsyncClient",
    "AsyncTask",
    "AuthenticationError",
    "BadRequestError",
    "BundleError",
    "CancelResult",
    "ChecksumMismatch",
    "Client",
    "ConflictError",
    "CreatedCredential",
    "CreatedInvitation",
    "CreatedWebhook",
    "Credential",
    "Deployed",
    "FileTooLarge",
    "GoneError",
    "IdempotencyKeyReused",
    "InvalidParameters",
    "Invitation",
    "LibraryModel",
    "Member",
    "NodePackage",
    "NotFoundError",
    "OutputsExpired",
    "Page",
    "PageMeta",
    "PairingPolled",
    "PairingStarted",
    "PermissionDeniedError",
    "PresignedUpload",
    "Profile",
    "RateLimited",
    "RunyardError",
    "ServerError",
    "Task",
    "TaskEvent",
    "TaskFailed",
    "TaskInfo",
    "TaskOutput",
    "TaskResult",
    "TeamInfo",
    "TokenPair",
    "TransportError",
    "Tunnel",
    "TunnelRefused",
    "UploadError",
    "User",
    "WaitTimeout",
    "Webhook",
    "WebhookDelivery",
    "WebhookTest",
    "Workflow",
    "delete_profile",
    "forward_tcp",
    "load_profile",
    "log_lines",
    "profile_path",
    "save_profile",
]
