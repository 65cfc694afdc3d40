"""ORM classes, one module per table. Importing this package registers every table on Base."""

from runyard.models.agent import Agent
from runyard.models.api_key import ApiKey
from runyard.models.device_pairing import DevicePairing
from runyard.models.file import StoredFile
from runyard.models.idempotency import IdempotencyKey
from runyard.models.invitation import TeamInvitation
from runyard.models.library_model import LibraryModel
from runyard.models.membership import Membership
from runyard.models.multipart_upload import MultipartUpload
from runyard.models.node_package import NodePackage
from runyard.models.object_deletion import ObjectDeletion
from runyard.models.rate_limit_counter import RateLimitCounter
from runyard.models.refresh_token import RefreshToken
from runyard.models.task import Task
from runyard.models.task_event import TaskEvent
from runyard.models.task_output import TaskOutput
from runyard.models.team import Team
from runyard.models.tunnel import Tunnel
from runyard.models.user import User
from runyard.models.webhook import Webhook
from runyard.models.webhook_delivery import WebhookDelivery
from runyard.models.workflow import Workflow, WorkflowVersion

__all__ = [
    "Agent",
    "ApiKey",
    "DevicePairing",
    "IdempotencyKey",
    "LibraryModel",
    "Membership",
    "MultipartUpload",
    "NodePackage",
    "ObjectDeletion",
    "RateLimitCounter",
    "RefreshToken",
    "StoredFile",
    "Task",
    "TaskEvent",
    "TaskOutput",
    "Team",
    "TeamInvitation",
    "Tunnel",
    "User",
    "Webhook",
    "WebhookDelivery",
    "Workflow",
    "WorkflowVersion",
]
