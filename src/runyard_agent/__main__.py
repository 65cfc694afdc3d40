"""``python -m runyard_agent``: the agent command line (same as ``runyard agent``)."""

from runyard_agent.cli import main

if __name__ == "__main__":
    main()
