"""A local stand-in for the Hugging Face Hub, for tests that must not reach the internet.

It implements the endpoints huggingface_hub's ``whoami``, ``create_repo``, ``repo_info``,
``create_branch``, ``preupload_lfs_files``, ``create_commit`` (README metadata validation,
preupload, commit) and the git-LFS basic transfer (batch + PUT) call, as read in the
installed huggingface_hub's source (hf_api.py, _commit_api.py, lfs.py), and stores what it
receives: repositories (visibility, branches, files per commit), LFS objects, and every
request line. Xet uploads are not implemented: tests set ``HF_HUB_DISABLE_XET=1`` so the
client uses LFS.

Public dataset repositories (:meth:`FakeHub.add_dataset`) are served read-only through what
``datasets.load_dataset`` asks for (datasets/load.py, huggingface_hub's file_download.py,
hf_api.py and hf_file_system.py): ``dataset_info`` (``/api/datasets/ID[/revision/REV]``),
``list_repo_tree`` (``/api/datasets/ID/tree/REV/PATH``), ``get_paths_info``
(``/api/datasets/ID/paths-info/REV``) and file downloads (``HEAD``/``GET``
``/datasets/ID/resolve/REV/PATH``, ranges included). The dataset viewer's exported infos
(``datasets-server.`` + endpoint) are not served: ``datasets`` falls back to the README's
``configs``.

Bound to 127.0.0.1 on an ephemeral port; used through ``HF_ENDPOINT``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".pkl", ".png", ".jpg", ".h5", ".msgpack", ".onnx", ".zip")
LFS_MIN_SIZE = 10 * 1024 * 1024


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob (what the Hub reports as a regular file's oid)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Branch:
    commit: str
    files: dict = field(default_factory=dict)  # path -> bytes
    lfs: dict = field(default_factory=dict)  # path -> sha256 of LFS files


@dataclass
class Repo:
    repo_id: str
    private: bool
    branches: dict = field(default_factory=dict)  # name -> Branch
    commits: list = field(default_factory=list)  # dicts: oid, branch, summary, files (paths)


class FakeHub:
    """State of the fake Hub; ``url`` is its address for ``HF_ENDPOINT``."""

    def __init__(self, tokens: dict[str, dict]):
        self.tokens = tokens  # token -> {"name": user, "orgs": [...], "role": "write"|"read"}
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.validated_yaml: list[str] = []
        self.fail_commit = False  # answer the next commit with HTTP 500 (a failed upload)
        self.datasets: dict[str, dict] = {}  # repo id -> {"sha": commit, "files": {path: bytes}}
        self._lock = threading.Lock()
        self._counter = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> "FakeHub":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # helpers for tests ----------------------------------------------------
    def files(self, repo_id: str, branch: str = "main") -> dict[str, bytes]:
        return dict(self.repos[repo_id].branches[branch].files)

    def commits(self, repo_id: str) -> list[dict]:
        return list(self.repos[repo_id].commits)

    def add_dataset(self, repo_id: str, folder) -> str:
        """Serve every file under ``folder`` as the public dataset repository ``repo_id``; returns its commit."""
        from pathlib import Path

        root = Path(folder)
        files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
        self.datasets[repo_id] = {"sha": self._new_oid(), "files": files}
        return self.datasets[repo_id]["sha"]

    def _new_oid(self) -> str:
        with self._lock:
            self._counter += 1
            return hashlib.sha1(f"commit-{self._counter}".encode()).hexdigest()

    # request handling -----------------------------------------------------
    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _send(self, status: int, payload=None, headers: dict | None = None):
                body = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":  # a HEAD answer has headers only
                    self.wfile.write(body)

            def _error(self, status: int, message: str, code: str | None = None):
                headers = {"X-Error-Message": message}
                if code:
                    headers["X-Error-Code"] = code
                self._send(status, {"error": message}, headers)

            def _user(self) -> dict | None:
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else None
                return hub.tokens.get(token) if token else None

            def _authorize(self, repo_id: str) -> dict | None:
                """The user when it may write to ``repo_id``'s namespace; else an error is sent."""
                user = self._user()
                if user is None:
                    self._error(401, "Invalid credentials in Authorization header")
                    return None
                namespace = repo_id.split("/")[0]
                if namespace != user["name"] and namespace not in user.get("orgs", []) or user.get("role") == "read":
                    self._error(403, f"You don't have the rights to write to {repo_id}")
                    return None
                return user

            def _repo(self, repo_id: str, write: bool = False) -> Repo | None:
                user = self._authorize(repo_id) if write else self._user()
                if write and user is None:
                    return None
                repo = hub.repos.get(repo_id)
                if repo is None or (repo.private and (user is None or repo_id.split("/")[0] not in
                                                      [user["name"], *user.get("orgs", [])])):
                    self._error(404, "Repository not found", code="RepoNotFound")
                    return None
                return repo

            def _dataset(self, repo_id: str, revision: str | None) -> dict | None:
                ds = hub.datasets.get(repo_id)
                if ds is None:
                    self._error(404, "Repository not found", code="RepoNotFound")
                    return None
                if revision not in (None, "main", ds["sha"]):
                    self._error(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
                    return None
                return ds

            def _entries(self, ds: dict, prefix: str, recursive: bool) -> list[dict]:
                """Tree entries under ``prefix``: files and (implied) folders, as the Hub lists them."""
                prefix = prefix.strip("/")
                out, folders = [], set()
                for p, data in sorted(ds["files"].items()):
                    if prefix and not p.startswith(prefix + "/"):
                        continue
                    rest = p[len(prefix) + 1:] if prefix else p
                    parts = rest.split("/")
                    for i in range(1, len(parts)):
                        folder = "/".join(([prefix] if prefix else []) + parts[:i])
                        if (recursive or i == 1) and folder not in folders:
                            folders.add(folder)
                            out.append({"type": "directory", "path": folder,
                                        "oid": hashlib.sha1(folder.encode()).hexdigest()})
                    if recursive or len(parts) == 1:
                        out.append({"type": "file", "path": p, "size": len(data), "oid": git_blob_sha1(data)})
                return out

            def _info(self, ds: dict, path: str) -> dict | None:
                if path in ds["files"]:
                    data = ds["files"][path]
                    return {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha1(data)}
                if any(p.startswith(path.rstrip("/") + "/") for p in ds["files"]):
                    return {"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest()}
                return None

            def _dataset_get(self, path: str, head: bool) -> bool:
                """Answer a read of a dataset repository; False when ``path`` is not one."""
                split = urlsplit(self.path)
                m = re.fullmatch(r"/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if m:
                    ds = self._dataset(m.group(1), m.group(2))
                    if ds is None:
                        return True
                    data = ds["files"].get(m.group(3))
                    if data is None:
                        self._error(404, "Entry not found", code="EntryNotFound")
                        return True
                    status, body = 200, data
                    rng = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
                    headers = {"X-Repo-Commit": ds["sha"], "ETag": f'"{git_blob_sha1(data)}"',
                               "Accept-Ranges": "bytes"}
                    if rng:
                        start, end = int(rng.group(1)), int(rng.group(2) or len(data) - 1)
                        status, body = 206, data[start:end + 1]
                        headers["Content-Range"] = f"bytes {start}-{start + len(body) - 1}/{len(data)}"
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if not head:
                        self.wfile.write(body)
                    return True
                if head:
                    return False
                m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+?)(?:/revision/(.+))?", path)
                if m:
                    ds = self._dataset(m.group(1), m.group(2))
                    if ds is not None:
                        self._send(200, {"id": m.group(1), "sha": ds["sha"], "private": False, "gated": False,
                                         "disabled": False, "tags": [], "cardData": {},
                                         "siblings": [{"rfilename": p} for p in sorted(ds["files"])]})
                    return True
                m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path)
                if m:
                    ds = self._dataset(m.group(1), m.group(2))
                    if ds is not None:
                        query = parse_qs(split.query)
                        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                        prefix = (m.group(3) or "").strip("/")
                        if prefix and self._info(ds, prefix) is None:
                            self._error(404, "Entry not found", code="EntryNotFound")
                        else:
                            self._send(200, self._entries(ds, prefix, recursive))
                    return True
                return False

            def do_HEAD(self):
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(("HEAD", path))
                if not self._dataset_get(path, head=True):
                    self._error(404, f"no route HEAD {path}")

            def do_GET(self):
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(("GET", path))
                if self._dataset_get(path, head=False):
                    return
                if path == "/api/whoami-v2":
                    user = self._user()
                    if user is None:
                        return self._error(401, "Invalid credentials in Authorization header")
                    return self._send(200, {"type": "user", "name": user["name"],
                                            "orgs": [{"name": o} for o in user.get("orgs", [])],
                                            "auth": {"type": "access_token",
                                                     "accessToken": {"displayName": "test", "role": user.get("role", "write")}}})
                m = re.fullmatch(r"/api/models/([^/]+/[^/]+?)(?:/revision/(.+))?", path)
                if m:
                    repo = self._repo(m.group(1))
                    if repo is None:
                        return
                    branch = repo.branches.get(m.group(2) or "main")
                    if branch is None:
                        return self._error(404, "Revision not found", code="RevisionNotFound")
                    return self._send(200, {"id": repo.repo_id, "sha": branch.commit, "private": repo.private,
                                            "siblings": [{"rfilename": p} for p in sorted(branch.files)]})
                return self._error(404, f"no route GET {path}")

            def do_PUT(self):
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(("PUT", path))
                m = re.fullmatch(r"/_lfs/([0-9a-f]{64})", path)
                if not m:
                    return self._error(404, f"no route PUT {path}")
                data = self._body()
                if hashlib.sha256(data).hexdigest() != m.group(1):
                    return self._error(400, "sha256 mismatch")
                hub.lfs[m.group(1)] = data
                return self._send(200, {})

            def do_POST(self):
                split = urlsplit(self.path)
                path = unquote(split.path)
                hub.requests.append(("POST", path))
                body = self._body()
                m = re.fullmatch(r"/api/datasets/([^/]+/[^/]+)/paths-info/(.+)", path)
                if m:
                    ds = self._dataset(m.group(1), m.group(2))
                    if ds is not None:
                        form = parse_qs(body.decode())
                        found = [self._info(ds, p) for p in form.get("paths", [])]
                        self._send(200, [f for f in found if f])
                    return
                if path == "/api/validate-yaml":
                    content = json.loads(body)["content"]
                    hub.validated_yaml.append(content)
                    if not content.startswith("---\n"):
                        return self._send(200, {"errors": [], "warnings": [{"message": "empty metadata"}]})
                    return self._send(200, {"errors": [], "warnings": []})
                if path == "/api/repos/create":
                    payload = json.loads(body)
                    user = self._user()
                    if user is None:
                        return self._error(401, "Invalid credentials in Authorization header")
                    repo_id = f"{payload.get('organization') or user['name']}/{payload['name']}"
                    if self._authorize(repo_id) is None:
                        return
                    if repo_id in hub.repos:  # the Hub's 409 carries the url; create_repo(exist_ok=True) reads it
                        return self._send(409, {"error": "You already created this model repo",
                                                "url": f"{hub.url}/{repo_id}"},
                                          {"X-Error-Message": "You already created this model repo"})
                    repo = Repo(repo_id=repo_id, private=payload.get("visibility") == "private")
                    repo.branches["main"] = Branch(commit=hub._new_oid(), files={".gitattributes": b"*.safetensors filter=lfs\n"})
                    repo.commits.append({"oid": repo.branches["main"].commit, "branch": "main",
                                         "summary": "initial commit", "files": [".gitattributes"]})
                    hub.repos[repo_id] = repo
                    return self._send(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})
                m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/branch/(.+)", path)
                if m:
                    repo = self._repo(m.group(1), write=True)
                    if repo is None:
                        return
                    if m.group(2) in repo.branches:
                        return self._error(409, "Reference already exists")
                    main = repo.branches["main"]
                    repo.branches[m.group(2)] = Branch(commit=main.commit, files=dict(main.files), lfs=dict(main.lfs))
                    return self._send(200, {})
                m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/preupload/(.+)", path)
                if m:
                    repo = self._repo(m.group(1), write=True)
                    if repo is None:
                        return
                    branch = repo.branches.get(m.group(2))
                    files = []
                    for f in json.loads(body)["files"]:
                        sample = base64.b64decode(f["sample"])
                        try:
                            sample.decode("utf-8")
                            binary = b"\0" in sample
                        except UnicodeDecodeError:
                            binary = True
                        lfs = binary or f["size"] >= LFS_MIN_SIZE or f["path"].endswith(LFS_SUFFIXES)
                        oid = None
                        if branch and f["path"] in branch.files:
                            oid = branch.lfs.get(f["path"]) or git_blob_sha1(branch.files[f["path"]])
                        files.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular",
                                      "shouldIgnore": False, "oid": oid})
                    return self._send(200, {"files": files, "commitOid": branch.commit if branch else None})
                m = re.fullmatch(r"/([^/]+/[^/]+)\.git/info/lfs/objects/batch", path)
                if m:
                    repo = self._repo(m.group(1), write=True)
                    if repo is None:
                        return
                    objects = []
                    for obj in json.loads(body)["objects"]:
                        entry = {"oid": obj["oid"], "size": obj["size"]}
                        if obj["oid"] not in hub.lfs:
                            entry["actions"] = {"upload": {"href": f"{hub.url}/_lfs/{obj['oid']}"}}
                        objects.append(entry)
                    return self._send(200, {"transfer": "basic", "objects": objects})
                m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/commit/(.+)", path)
                if m:
                    repo = self._repo(m.group(1), write=True)
                    if repo is None:
                        return
                    if hub.fail_commit:
                        hub.fail_commit = False
                        return self._error(500, "Internal Error")
                    branch = repo.branches.get(m.group(2))
                    if branch is None:
                        return self._error(404, "Revision not found", code="RevisionNotFound")
                    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
                    header = next(item["value"] for item in lines if item["key"] == "header")
                    files, lfs = dict(branch.files), dict(branch.lfs)
                    changed = []
                    for item in lines:
                        value = item["value"]
                        if item["key"] == "file":
                            files[value["path"]] = base64.b64decode(value["content"])
                            lfs.pop(value["path"], None)
                        elif item["key"] == "lfsFile":
                            if value["oid"] not in hub.lfs:
                                return self._error(422, f"LFS object {value['oid']} was not uploaded")
                            files[value["path"]] = hub.lfs[value["oid"]]
                            lfs[value["path"]] = value["oid"]
                        elif item["key"] in ("deletedFile", "deletedFolder"):
                            files.pop(value["path"], None)
                        else:
                            continue
                        changed.append(value["path"])
                    oid = hub._new_oid()
                    repo.branches[m.group(2)] = Branch(commit=oid, files=files, lfs=lfs)
                    repo.commits.append({"oid": oid, "branch": m.group(2), "summary": header.get("summary"),
                                         "files": changed})
                    return self._send(200, {"commitUrl": f"{hub.url}/{repo.repo_id}/commit/{oid}", "commitOid": oid,
                                            "pullRequestUrl": None})
                return self._error(404, f"no route POST {path}")

        return Handler


TEST_TOKEN = "hf_TestTokenAbcdefghijklmnopqrstuvwx1234"
READ_TOKEN = "hf_ReadOnlyTokenAbcdefghijklmnopqrst5678"


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """A running :class:`FakeHub` with user ``alice`` (org ``acme``); HF_ENDPOINT and HF_TOKEN point at it.

    ``HF_HOME`` is a fresh folder (no login store), Xet is disabled (LFS is used) and
    HF_HUB_OFFLINE is unset, for this process and the subprocesses it starts.
    """
    from huggingface_hub import constants

    hub = FakeHub({TEST_TOKEN: {"name": "alice", "orgs": ["acme"], "role": "write"},
                   READ_TOKEN: {"name": "alice", "orgs": [], "role": "read"}}).start()
    home = tmp_path / "hf-home"
    home.mkdir()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    try:
        yield hub
    finally:
        hub.stop()
