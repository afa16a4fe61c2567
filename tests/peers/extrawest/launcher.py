"""Builds the extrawest-ocpi peer environment and runs peers as real processes.

The peer (``peer_app.py``) pins pydantic 1, so it lives in its own virtual environment at
``<repo>/.peers/extrawest``, built with uv from the hash-locked ``requirements.txt`` beside this
file. ``ensure_venv`` rebuilds it only when the requirements or the interpreter change.
``ExtrawestPeer`` starts one CPO or eMSP as a uvicorn process on a free loopback port.
"""

import base64
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
VENV = REPO / ".peers" / "extrawest"
REQUIREMENTS = HERE / "requirements.txt"
PEER_APP = HERE / "peer_app.py"
LOG_DIR = REPO / "var" / "peers"
STAMP_NAME = ".incar-requirements.sha256"

Role = Literal["CPO", "EMSP"]


class PeerError(RuntimeError):
    """The peer environment could not be built or a peer did not come up."""


def uv_command() -> list[str]:
    """uv as the project's tooling provides it (see ./dev), most specific first."""
    for candidate in (Path.home() / ".incar-tools" / "bin" / "uv", REPO / ".tools" / "bin" / "uv"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    on_path = shutil.which("uv")
    if on_path:
        return [on_path]
    return [sys.executable, "-m", "uv"]


def base_python() -> Path:
    """The interpreter behind the project's venv; the peer venv uses the same CPython."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / name
    return candidate if candidate.exists() else Path(sys.executable)


def peer_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def requirements_digest(python: Path) -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(str(python.resolve()).encode())
    return digest.hexdigest()


def _run_uv(*args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    result = subprocess.run(
        [*uv_command(), *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PeerError(f"uv {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Serialises concurrent builders (parallel pytest runs share the venv)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_venv(venv: Path = VENV) -> Path:
    """Create or update the peer venv; return its python. A no-op when the stamp matches."""
    python = base_python()
    wanted = requirements_digest(python)
    stamp = venv / STAMP_NAME

    def up_to_date() -> bool:
        return peer_python(venv).exists() and stamp.is_file() and stamp.read_text() == wanted

    if up_to_date():
        return peer_python(venv)
    with _exclusive(venv.parent / f".{venv.name}.lock"):
        if not up_to_date():
            stamp.unlink(missing_ok=True)
            _run_uv("venv", "--clear", "--quiet", "--python", str(python), str(venv))
            _run_uv(
                "pip",
                "sync",
                "--quiet",
                "--require-hashes",
                "--python",
                str(peer_python(venv)),
                str(REQUIREMENTS),
            )
            stamp.write_text(wanted)
    return peer_python(venv)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prune_logs(log_dir: Path, max_age: float = 3600.0) -> None:
    """Peer logs are kept for debugging a failed run, but not forever."""
    cutoff = time.time() - max_age
    for old in log_dir.glob("extrawest-*.log"):
        with suppress(FileNotFoundError):
            if old.stat().st_mtime < cutoff:
                old.unlink()


def encode_token(token: str) -> str:
    """OCPI 2.2.1 credentials tokens travel base64-encoded in ``Authorization: Token ...``."""
    return base64.b64encode(token.encode()).decode()


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {encode_token(token)}"}


class ExtrawestPeer:
    """One extrawest-ocpi peer process for one role; a sync and async context manager.

    The peer accepts ``token_a`` on versions, version details and credentials (registration),
    and ``token_c`` (pre-shared) plus every token C it issued on all modules. When it calls
    back (command or charging-profile results) it uses the token of the party that registered
    with the token of the incoming request, else ``client_token``.
    """

    def __init__(
        self,
        role: Role,
        *,
        country_code: str = "NL",
        party_id: str | None = None,
        token_a: str | None = None,
        token_c: str | None = None,
        client_token: str | None = None,
        log_dir: Path = LOG_DIR,
        startup_timeout: float = 30.0,
    ) -> None:
        tag = role.lower()
        nonce = os.urandom(6).hex()
        self.role: Role = role
        self.country_code = country_code.upper()
        self.party_id = (party_id or {"CPO": "EXC", "EMSP": "EXE"}[role]).upper()
        self.token_a = token_a or f"exw-{tag}-a-{nonce}"
        self.token_c = token_c or f"exw-{tag}-c-{nonce}"
        self.client_token = client_token or self.token_c
        self.log_dir = log_dir
        self.startup_timeout = startup_timeout
        self.port = 0
        self.log_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    @property
    def details_url(self) -> str:
        return f"{self.base_url}/ocpi/2.2.1/details"

    def endpoint_url(self, module: str) -> str:
        """The URL the peer advertises for ``module`` (a ModuleID), with its trailing slash."""
        path = "clientinfo" if module == "hubclientinfo" else module
        return f"{self.base_url}/ocpi/{self.role.lower()}/2.2.1/{path}/"

    @property
    def accepted_tokens(self) -> list[str]:
        return [self.token_c, *self.store("registrations")]

    def start(self) -> Self:
        python = ensure_venv()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        prune_logs(self.log_dir)
        for _ in range(3):
            self.port = free_port()
            self.log_path = self.log_dir / f"extrawest-{self.role.lower()}-{self.port}.log"
            self._spawn(python, self.log_path)
            if self._wait_until_ready():
                return self
        raise PeerError(f"extrawest {self.role} peer did not start; see {self.log_path}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        import asyncio

        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        import asyncio

        await asyncio.to_thread(self.stop)

    def requests(self) -> list[dict[str, Any]]:
        """Every OCPI request the peer received: method, path, query, headers (lower-case
        names), body, json, response_status, response_headers, response."""
        return list(self._side_door("GET", "requests"))

    def clear_requests(self) -> None:
        self._side_door("DELETE", "requests")

    def outbound(self) -> list[dict[str, Any]]:
        """Every HTTP request the peer sent: method, url, headers, body, json, response."""
        return list(self._side_door("GET", "outbound"))

    def clear_outbound(self) -> None:
        self._side_door("DELETE", "outbound")

    def store(self, section: str | None = None) -> dict[str, Any]:
        """The in-memory store, or one section of it (keys ``CC/PID/ID`` for OCPI objects)."""
        path = "store" if section is None else f"store/{section}"
        return dict(self._side_door("GET", path))

    def seed(self, section: str, *objects: dict[str, Any]) -> None:
        """Upsert OCPI objects (keyed by their country_code/party_id/id or uid)."""
        self._side_door("PUT", f"store/{section}", list(objects))

    def set_item(self, section: str, key: str, value: Any) -> None:
        """Set one raw entry, e.g. ``("command_outcomes", "START_SESSION", {...})``."""
        self._side_door("PUT", f"store/{section}/{key}", value)

    def delete_item(self, section: str, key: str) -> None:
        self._side_door("DELETE", f"store/{section}/{key}")

    def _side_door(self, method: str, path: str, payload: Any = None) -> Any:
        url = f"{self.base_url}/_test/{path}"
        response = httpx.request(method, url, json=payload, timeout=10.0)
        if response.status_code not in {200, 404}:
            response.raise_for_status()
        return response.json()

    def _spawn(self, python: Path, log_path: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
        env["PYTHONUNBUFFERED"] = "1"
        args = [
            str(python),
            str(PEER_APP),
            f"--role={self.role}",
            f"--port={self.port}",
            f"--country-code={self.country_code}",
            f"--party-id={self.party_id}",
            f"--token-a={self.token_a}",
            f"--token-c={self.token_c}",
            f"--client-token={self.client_token}",
            f"--parent-pid={os.getpid()}",
        ]
        with log_path.open("wb") as log:
            # cwd is the log dir: py_ocpi would otherwise read a stray .env from the cwd.
            self._process = subprocess.Popen(
                args, cwd=self.log_dir, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def _wait_until_ready(self) -> bool:
        """True once the side door answers; False if the process died (e.g. port taken)."""
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process.wait()
                self._process = None
                return False
            try:
                httpx.get(f"{self.base_url}/_test/info", timeout=1.0).raise_for_status()
                return True
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise PeerError(f"extrawest {self.role} peer not ready in time; see {self.log_path}")
