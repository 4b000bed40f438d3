import asyncio, secrets, sys, tempfile, uuid
from pathlib import Path
from app.core.security import TokenCodec
from app.core.config import Settings
from bench import seed
from bench.run import serve
from bench.race import api_cpu_seconds
from bench.load_client import LeanConnection
URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dl_bench_probe"
N = int(__import__("os").environ.get("N","2000"))
async def probe(base, token, cases, pid):
    c = LeanConnection(base)
    for name, method, path, body in cases:
        for _ in range(200):
            await c.request(method, path, token, body)
        before = api_cpu_seconds(pid)
        for _ in range(N):
            status, _ = await c.request(method, path, token, body)
        print(f"{name:40s} {status} {(api_cpu_seconds(pid)-before)/N*1e6:7.0f} us")
def main():
    secret = secrets.token_urlsafe(48)
    codec = TokenCodec(Settings(jwt_secret=secret, access_token_minutes=60))
    seed.prepare_database(URL, 20)
    ids = asyncio.run(seed.member_ids_with_admin(URL))
    token = codec.issue(ids[1], ["member"], 0)
    with tempfile.TemporaryDirectory() as tmp, serve(URL, secret, Path(tmp)/"log", {"DL_WORKER_IN_PROCESS": "false"}) as server:
        nope = uuid.uuid4()
        import subprocess, os
        spy = subprocess.Popen([".venv/bin/py-spy","record","--nonblocking","-r","250","-p",str(server.pid),"-f","raw","-o","/tmp/probe.raw"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if os.environ.get("SPY") else None
        cases = [("GET /healthz", "GET", "/healthz", None),
                 ("GET /ceiling raw?", "GET", f"/api/v1/members/{ids[2]}", None),
                 ("POST register unknown event (404)", "POST", f"/api/v1/events/{nope}/registrations", b'{"source":"ads"}'),
                 ("POST confirm unknown reg (404)", "POST", f"/api/v1/registrations/{nope}/confirm", None)]
        only = os.environ.get("ONLY")
        asyncio.run(probe(server.base_url, token, [c for c in cases if not only or only in c[0]], server.pid))
        if spy: spy.send_signal(2); spy.wait()
main()
