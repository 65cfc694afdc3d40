"""The Runyard agent: dials out to the server, runs assigned tasks, reports back.

In-process use (tests, ``runyard dev``)::

    agent = Agent(AgentOptions(agent_key="ak-...", agent_id="box-1", server_url="http://..."))
    runner = asyncio.create_task(agent.run())
    await agent.wait_ready()
    ...
    agent.stop()          # drain: finish or release running tasks, close with 1000
    await runner

The command line is ``runyard agent`` / ``python -m runyard_agent`` (see ``cli.py``).
"""

from runyard_agent.connection import Agent, ConnectionState
from runyard_agent.options import AgentOptions, AgentRejectedError, Backoff, agent_version

__all__ = [
    "Agent",
    "AgentOptions",
    "AgentRejectedError",
    "Backoff",
    "ConnectionState",
    "agent_version",
]
