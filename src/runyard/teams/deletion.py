"""Deleting a team (owner only, the team's name typed back). Never commits.

In the request's one unit of work: the team's unfinished tasks are cancelled through the tasks'
own cancel path (running ones are flagged and their agents told after the commit), the deletion
of everything it stored is recorded (``object_deletions``), and the team's row goes, taking by
foreign-key cascade its members, invitations, keys, agents, webhooks (and their deliveries),
workflows, files, uploads and tasks. After the commit: the cancels are sent, the connections of
its agent keys are closed, and the stored objects are removed (the sweeper retries what fails).
Sessions need nothing: every request checks the caller's membership, which is gone.
"""

from __future__ import annotations

from runyard.clock import Clock
from runyard.credentials.repository import CredentialRepository
from runyard.db.unit import UnitOfWork
from runyard.errors import Unprocessable
from runyard.gateway.registry import Gateway
from runyard.retention.deletions import ObjectRemover, team_objects
from runyard.retention.repository import RetentionRepository
from runyard.settings import Settings
from runyard.states import ACTIVE
from runyard.tasks.listing import Cursor, TaskListing
from runyard.tasks.repository import TaskFilter
from runyard.tasks.service import TaskService
from runyard.teams.repository import TeamRepository
from runyard.teams.service import TeamService, owner_only

PAGE = 1000


async def delete_team(
    uow: UnitOfWork,
    settings: Settings,
    clock: Clock,
    gateway: Gateway,
    remover: ObjectRemover,
    *,
    team_id: str,
    role: str | None,
    typed_name: str,
) -> None:
    owner_only(role)
    team = await TeamService(uow.session).team(team_id)
    if typed_name != team.display_name:
        raise Unprocessable(
            "To delete the team, type its name exactly as it is "
            f"({team.display_name!r}) in `team_name`.",
            code="team_name_mismatch",
        )
    await _cancel_tasks(uow, settings, clock, gateway, team_id)
    keys, _ = await CredentialRepository(uow.session).page(team_id, 0, 1_000_000)
    agent_keys = [k.id for k in keys if k.kind == "agent"]
    uploads = await RetentionRepository(uow.session).open_uploads_of_team(team_id)
    for row in team_objects(
        team_id, [(u.file_key, u.backend_upload_id) for u in uploads], settings, clock.now()
    ):
        uow.session.add(row)
    await uow.session.flush()  # the cancels are written before their rows go with the team
    await TeamRepository(uow.session).delete_team(team_id)

    async def disconnect() -> None:
        for key_id in agent_keys:
            await gateway.disconnect_key(key_id)

    async def remove_objects() -> None:
        await remover.run()

    uow.after_commit(disconnect)
    uow.after_commit(remove_objects)


async def _cancel_tasks(
    uow: UnitOfWork, settings: Settings, clock: Clock, gateway: Gateway, team_id: str
) -> None:
    listing, service = TaskListing(uow.session), TaskService(uow, settings, clock)
    ids: list[str] = []
    for status in sorted(ACTIVE):
        after: Cursor | None = None
        while True:
            page = await listing.page(team_id, TaskFilter(task_status=status), 0, PAGE, after)
            ids += [t.id for t in page.tasks]
            if page.next_cursor is None:
                break
            after = Cursor.decode(page.next_cursor)
    for task_id in ids:
        await service.cancel(team_id, task_id, gateway)
