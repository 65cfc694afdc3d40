from pathlib import Path
from runyard_client import Client
def test_smoke(live, tmp_path: Path) -> None:
    f = tmp_path / "photo.png"; f.write_bytes(b"\x89PNG hello")
    with live.client() as c:
        key = c.upload(f)
        print(key)
        t = c.run("echo", {"input_file": key})
        print(t, t.refresh())
        t2 = c.run("echo", {"input_file": f})
        print(t2.result())
        print(c.workflows.list())
        print(c.agents.list())
