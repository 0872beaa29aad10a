"""A loopback mock of the Hugging Face Hub, for tests and benchmarks.

lmscope's Hub layer uses the real ``huggingface_hub`` client; this server lets
that client run unchanged against 127.0.0.1 (``HF_ENDPOINT``) with no network.
It answers the few endpoints lmscope uses the way the real Hub does:

- ``GET /api/models`` — search (``search``, ``author``, ``filter``, ``sort``,
  ``limit``, ``expand``), newest/most popular first.
- ``GET /api/models/{id}`` and ``/api/models/{id}/revision/{rev}`` — repo info
  (siblings with sizes when ``blobs=true``, sha, gated, private, safetensors
  totals computed from the shards it serves).
- ``HEAD``/``GET /{id}/resolve/{rev}/{path}`` — ``ETag``, ``X-Repo-Commit``,
  ``Content-Length``; ``Range`` → 206 with ``Content-Range``.
- Errors the way the Hub words them: 401 + ``X-Error-Code: RepoNotFound`` for
  missing/private repos, 403 + ``GatedRepo`` for gated repos without an
  accepted token, 404 + ``EntryNotFound`` for missing files, 429 +
  ``Retry-After`` for the first N requests (configurable), and slow answers.

Every request is recorded (method, path, query, Range, whether an
Authorization header came and with which token) so tests can assert what the
client asked for — e.g. that no weight byte was read beyond a header range.

Everything is bounded: the server runs in daemon threads, delays are capped,
and ``stop()`` shuts it down (the ``mock_hub`` fixture does that at teardown).
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

FIXTURES = Path(__file__).parent / "fixtures"
HUB_FIXTURES = FIXTURES / "hub"
CONFIG_FIXTURES = FIXTURES / "configs"
MAX_DELAY_S = 10.0  # a slow answer never sleeps longer than this

VALID_TOKEN = "hf_MockHubValidTokenABCDEFGHIJKLMNOP0123"
LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".onnx", ".onnx_data", ".pt", ".pth", ".h5", ".msgpack")
DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


@dataclass
class MockRepo:
    """One repo the mock serves: files in memory plus what the Hub says about it."""

    repo_id: str
    files: dict[str, bytes] = field(default_factory=dict)
    sha: str = ""
    gated: str | bool = False  # False, "auto", "manual"
    private: bool = False
    downloads: int = 0
    likes: int = 0
    tags: list[str] = field(default_factory=list)
    pipeline_tag: str | None = None
    library_name: str | None = "transformers"
    last_modified: str = "2025-01-01T00:00:00.000Z"
    created_at: str = "2024-01-01T00:00:00.000Z"
    card_data: dict | None = None
    safetensors: dict | None = None  # {"parameters": {dtype: n}, "total": n}; computed when None
    extra_siblings: dict[str, int] = field(default_factory=dict)  # listed with a size but not served

    def __post_init__(self) -> None:
        if not self.sha:
            self.sha = hashlib.sha1(self.repo_id.encode()).hexdigest()

    @property
    def author(self) -> str:
        return self.repo_id.split("/")[0]


@dataclass(frozen=True)
class RecordedRequest:
    """What the client sent (for assertions)."""

    method: str
    path: str
    query: dict[str, list[str]]
    range: str | None
    authorization: str | None
    status: int = 0
    body_bytes: int = 0
    gave_up: bool = False  # the client hung up while the mock was still delaying its answer (a client timeout)

    @property
    def has_auth(self) -> bool:
        return self.authorization is not None


def safetensors_bytes(tensors: dict[str, tuple[str, tuple[int, ...], bytes]], metadata: dict | None = None) -> bytes:
    """Serialise ``{name: (dtype, shape, raw bytes)}`` as a safetensors file (for hand-made dtypes/lies)."""
    header: dict = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    return struct.pack("<Q", len(blob)) + blob + b"".join(raw for _, _, raw in tensors.values())


def safetensors_params(data: bytes) -> dict[str, int]:
    """Parameters per dtype of one safetensors file, read from its own header (the Hub's way)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out: dict[str, int] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        numel = 1
        for d in entry["shape"]:
            numel *= d
        out[entry["dtype"]] = out.get(entry["dtype"], 0) + numel
    return out


class MockHub:
    """The server plus its knobs. Start with :meth:`start`, stop with :meth:`stop`."""

    def __init__(self) -> None:
        self.repos: dict[str, MockRepo] = {}
        self.requests: list[RecordedRequest] = []
        self.valid_tokens: set[str] = {VALID_TOKEN}
        self.rejected_tokens: set[str] = set()  # answered 401 "Invalid credentials" everywhere (expired/revoked)
        self.rate_limit_first: int = 0  # answer 429 to the first N matching requests
        self.rate_limit_pattern: str = ""  # regex on the path; "" = every request
        self.retry_after: str | None = "1"
        self.delay_s: float = 0.0  # sleep before every answer (capped at MAX_DELAY_S)
        self.delay_pattern: str = ""
        self.honour_range: bool = True  # False: answer 200 with the whole file, like a misbehaving proxy
        # True: LFS files (.safetensors, ...) answer 302 to a "CDN" on another origin (localhost vs 127.0.0.1),
        # with X-Linked-Etag/X-Linked-Size, as the real Hub does; the CDN serves ranges without auth
        self.lfs_redirect: bool = False
        self._cdn: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._rate_limited = 0
        self._tls = False
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests handled at once (bounded-concurrency tests)
        self.client_gave_up = threading.Event()  # set when a client hangs up during a delay (see RecordedRequest.gave_up)

    # ------------------------------------------------------------------ setup
    @property
    def url(self) -> str:
        assert self._server is not None, "mock hub not started"
        host, port = self._server.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    def add_repo(self, repo: MockRepo) -> MockRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def load_fixture_repo(self, repo_id: str, **kwargs) -> MockRepo:
        """A repo whose files are every file under ``tests/fixtures/hub/<org>/<name>/``."""
        folder = HUB_FIXTURES / repo_id
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return self.add_repo(MockRepo(repo_id, files=files, **kwargs))

    def config_repo(self, repo_id: str, **kwargs) -> MockRepo:
        """A repo serving the real config.json copied under ``tests/fixtures/configs/<org--name>/``."""
        folder = CONFIG_FIXTURES / repo_id.replace("/", "--")
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
        return self.add_repo(MockRepo(repo_id, files=files, **kwargs))

    def reset_counters(self) -> None:
        with self._lock:
            self.requests.clear()
            self._rate_limited = 0
            self.max_in_flight = 0
            self.client_gave_up.clear()

    # ---------------------------------------------------------------- running
    def start(self, *, tls: tuple[str, str] | None = None) -> MockHub:
        """Serve on 127.0.0.1 (a free port); ``tls=(certfile, keyfile)`` serves HTTPS instead."""
        hub = self

        class Handler(_Handler):
            mock = hub

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._tls = tls is not None
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.end_keep_alive_connections()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> MockHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------- assertions
    def requests_for(self, pattern: str, method: str | None = None) -> list[RecordedRequest]:
        rx = re.compile(pattern)
        with self._lock:
            return [r for r in self.requests if rx.search(r.path) and (method is None or r.method == method)]

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def _take_rate_limit(self, path: str) -> bool:
        if self.rate_limit_pattern and not re.search(self.rate_limit_pattern, path):
            return False
        with self._lock:
            if self._rate_limited < self.rate_limit_first:
                self._rate_limited += 1
                return True
        return False

    # ------------------------------------------------------------ Hub answers
    def model_json(self, repo: MockRepo, *, blobs: bool, expand: list[str] | None) -> dict:
        siblings = []
        for path, data in sorted(repo.files.items()):
            entry: dict = {"rfilename": path}
            if blobs:
                entry["size"] = len(data)
                entry["blobId"] = hashlib.sha1(data).hexdigest()
                if path.endswith(LFS_SUFFIXES):
                    entry["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            siblings.append(entry)
        for path, size in sorted(repo.extra_siblings.items()):
            siblings.append({"rfilename": path, **({"size": size} if blobs else {})})
        full = {
            "_id": repo.sha[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.author,
            "sha": repo.sha,
            "lastModified": repo.last_modified,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "downloads": repo.downloads,
            "likes": repo.likes,
            "tags": list(repo.tags),
            "pipeline_tag": repo.pipeline_tag,
            "library_name": repo.library_name,
            "siblings": siblings,
        }
        if repo.card_data is not None:
            full["cardData"] = repo.card_data
        st = repo.safetensors if repo.safetensors is not None else self._safetensors_totals(repo)
        if st:
            full["safetensors"] = st
        if expand:
            return {"_id": full["_id"], "id": repo.repo_id, **{k: full[k] for k in expand if k in full}}
        return full

    @staticmethod
    def _safetensors_totals(repo: MockRepo) -> dict | None:
        params: dict[str, int] = {}
        for path, data in repo.files.items():
            if path.endswith(".safetensors"):
                try:
                    found = safetensors_params(data)
                except (ValueError, KeyError, TypeError, struct.error):  # a deliberately broken file: no totals
                    return None
                for dtype, n in found.items():
                    params[dtype] = params.get(dtype, 0) + n
        return {"parameters": params, "total": sum(params.values())} if params else None

    def search(self, query: dict[str, list[str]]) -> list[dict]:
        def one(name: str) -> str | None:
            values = query.get(name) or query.get(name + "[]")
            return values[0] if values else None

        text = (one("search") or "").lower()
        author = one("author")
        filters = (query.get("filter") or []) + (query.get("filter[]") or [])
        pipeline = one("pipeline_tag")
        sort = one("sort") or "downloads"
        limit = int(one("limit") or 1000)
        expand = (query.get("expand") or []) + (query.get("expand[]") or []) or None
        hits = []
        for repo in self.repos.values():
            if repo.private:
                continue
            if text and text not in repo.repo_id.lower():
                continue
            if author and repo.author != author:
                continue
            facets = set(repo.tags) | {repo.pipeline_tag or "", repo.library_name or ""}
            if any(f not in facets for f in filters):
                continue
            if pipeline and repo.pipeline_tag != pipeline:
                continue
            hits.append(repo)
        key = {"downloads": lambda r: r.downloads, "likes": lambda r: r.likes, "lastModified": lambda r: r.last_modified}
        hits.sort(key=key.get(sort, key["downloads"]), reverse=True)
        default_expand = ["id", "likes", "downloads", "pipeline_tag", "library_name", "tags", "private", "createdAt"]
        out = []
        for repo in hits[:limit]:
            doc = self.model_json(repo, blobs=False, expand=expand or default_expand)
            out.append(doc)
        return out


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog (5) drops bursts of parallel connects: 1 s SYN retries
    daemon_threads = True

    def __init__(self, *args, **kwargs) -> None:
        self._connections: set = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:  # closed under the lock: never hung up by number after its fd is reused
            self._connections.discard(request)
            super().shutdown_request(request)

    def end_keep_alive_connections(self) -> None:
        """Hang up the connections still open (keep-alive), so no handler of a stopped server answers again.

        ``shutdown`` (not ``close``): each handler thread still closes its own socket, once.
        """
        import socket

        with self._connections_lock:
            for conn in self._connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], OSError):  # a client that gave up (timeouts, abandoned retries)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    mock: MockHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._handle(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle(head=True)

    # ------------------------------------------------------------------ core
    def _delay_unless_client_hangs_up(self, seconds: float) -> bool:
        """Wait ``seconds`` before answering; True as soon as the client closes the connection (it gave up).

        A timeout test then reads from the mock that the client stopped waiting
        before the answer was due, instead of timing the client.
        """
        import select
        import socket
        import ssl

        end = time.monotonic() + seconds
        sock = self.connection
        if isinstance(sock, ssl.SSLSocket):  # no MSG_PEEK on TLS: just wait
            time.sleep(seconds)
            return False
        while (left := end - time.monotonic()) > 0:
            try:
                readable, _, _ = select.select([sock], [], [], min(left, 0.02))
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    return True
            except (OSError, ValueError):
                return True
            if readable:  # bytes waiting (a pipelined request): nothing to learn, wait the rest out
                time.sleep(max(0.0, end - time.monotonic()))
                return False
        return False

    def _handle(self, *, head: bool) -> None:
        mock = self.mock
        with mock._lock:
            mock.in_flight += 1
            mock.max_in_flight = max(mock.max_in_flight, mock.in_flight)
        try:
            self._handle_counted(head=head)
        finally:
            with mock._lock:
                mock.in_flight -= 1

    def _handle_counted(self, *, head: bool) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = parse_qs(split.query)
        mock = self.mock
        if mock.delay_s and (not mock.delay_pattern or re.search(mock.delay_pattern, path)):
            if self._delay_unless_client_hangs_up(min(mock.delay_s, MAX_DELAY_S)):
                mock._record(RecordedRequest(method=self.command, path=path, query=query, range=self.headers.get("Range"),
                                             authorization=self.headers.get("Authorization"), gave_up=True))  # fmt: skip
                mock.client_gave_up.set()
                self.close_connection = True
                return
        auth = self.headers.get("Authorization")
        token = auth.split(" ", 1)[1] if auth and " " in auth else None
        status, headers, body = self._answer(path, query, head=head, token=token)
        mock._record(
            RecordedRequest(
                method=self.command,
                path=path,
                query=query,
                range=self.headers.get("Range"),
                authorization=auth,
                status=status,
                body_bytes=0 if head else len(body),
            )
        )
        try:
            self.send_response(status)
            headers.setdefault("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def _answer(self, path: str, query: dict, *, head: bool, token: str | None) -> tuple[int, dict, bytes]:
        mock = self.mock
        if token is not None and token in mock.rejected_tokens:
            msg = "Invalid credentials in Authorization header"
            return _json(401, {"error": msg}, {"X-Error-Message": msg})
        if mock._take_rate_limit(path):
            headers = {"X-Error-Message": "You have been rate-limited."}
            if mock.retry_after is not None:
                headers["Retry-After"] = mock.retry_after
            return _json(429, {"error": "You have been rate-limited."}, headers)
        if path == "/api/models":
            return _json(200, mock.search(query))
        if path.startswith("/_cdn/"):
            data = mock._cdn.get(path[len("/_cdn/") :])
            return self._bytes(data, {}) if data is not None else _json(404, {"error": "no such blob"})
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if m:
            repo, err = self._access(m.group(1), token, api=True)
            if err:
                return err
            expand = (query.get("expand") or []) + (query.get("expand[]") or []) or None
            blobs = (query.get("blobs") or ["false"])[0].lower() == "true"
            if m.group(2) and m.group(2) not in ("main", repo.sha):
                return _json(404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
            return _json(200, mock.model_json(repo, blobs=blobs, expand=expand))
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            repo, err = self._access(m.group(1), token, api=False)
            if err:
                return err
            if m.group(2) not in ("main", repo.sha):
                return _json(404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
            return self._file(repo, m.group(3))
        return _json(404, {"error": "Not Found"})

    def _access(self, repo_id: str, token: str | None, *, api: bool) -> tuple[MockRepo | None, tuple | None]:
        mock = self.mock
        repo = mock.repos.get(repo_id)
        authed = token is not None and token in mock.valid_tokens
        not_found = _json(
            401,
            {"error": "Repository not found"},
            {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
        )
        if repo is None or (repo.private and not authed):
            return None, not_found
        if repo.gated and not authed and not api:  # gated repos show their card, not their files
            msg = f"Access to model {repo_id} is restricted. You must have access to it and be authenticated to access it. Please log in."
            return None, _json(401 if token is None else 403, {"error": msg}, {"X-Error-Code": "GatedRepo", "X-Error-Message": msg})
        return repo, None

    def _file(self, repo: MockRepo, rel: str) -> tuple[int, dict, bytes]:
        data = repo.files.get(rel)
        base = {"X-Repo-Commit": repo.sha, "Accept-Ranges": "bytes"}
        if data is None:
            return _json(404, {"error": "Entry not found"}, {**base, "X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"})
        sha256 = hashlib.sha256(data).hexdigest()
        if self.mock.lfs_redirect and rel.endswith(LFS_SUFFIXES):
            self.mock._cdn[sha256] = data
            port = self.server.server_address[1]
            location = f"http://localhost:{port}/_cdn/{sha256}"
            linked = {"X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(data)), "Location": location}
            return 302, {**base, **linked, "ETag": '"' + hashlib.sha1(data).hexdigest() + '"'}, b""
        return self._bytes(data, {**base, "ETag": f'"{sha256}"'})

    def _bytes(self, data: bytes, headers: dict) -> tuple[int, dict, bytes]:
        headers = {**headers, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        rng = self.headers.get("Range")
        if rng and self.mock.honour_range:
            m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", rng)
            if not m or (not m.group(1) and not m.group(2)):
                return 416, {**headers, "Content-Range": f"bytes */{len(data)}"}, b""
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
            else:  # suffix range
                start, end = max(0, len(data) - int(m.group(2))), len(data) - 1
            if start >= len(data) or start > end:
                return 416, {**headers, "Content-Range": f"bytes */{len(data)}"}, b""
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return 206, headers, data[start : end + 1]
        return 200, headers, data


def _json(status: int, payload, headers: dict | None = None) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode()


# ---------------------------------------------------------------------------
# Standard fixture content
# ---------------------------------------------------------------------------


def tiny_llama_tensors(config: dict, shards: int = 2, seed: int = 0) -> list[dict[str, object]]:
    """Tiny Llama weights as numpy arrays, split into ``shards`` dicts (real tensor names and shapes).

    Mixed dtypes on purpose (F16 matrices, F32 norms, an I8 tensor) so per-dtype counts mean something.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    h, inter, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    hd = config.get("head_dim") or h // heads
    layers = config["num_hidden_layers"]
    tensors: dict[str, np.ndarray] = {"model.embed_tokens.weight": rng.standard_normal((vocab, h)).astype(np.float16)}
    for i in range(layers):
        p = f"model.layers.{i}."
        tensors[p + "input_layernorm.weight"] = np.ones(h, dtype=np.float32)
        tensors[p + "post_attention_layernorm.weight"] = np.ones(h, dtype=np.float32)
        tensors[p + "self_attn.q_proj.weight"] = rng.standard_normal((heads * hd, h)).astype(np.float16)
        tensors[p + "self_attn.k_proj.weight"] = rng.standard_normal((kv * hd, h)).astype(np.float16)
        tensors[p + "self_attn.v_proj.weight"] = rng.standard_normal((kv * hd, h)).astype(np.float16)
        tensors[p + "self_attn.o_proj.weight"] = rng.standard_normal((h, heads * hd)).astype(np.float16)
        tensors[p + "mlp.gate_proj.weight"] = rng.standard_normal((inter, h)).astype(np.float16)
        tensors[p + "mlp.up_proj.weight"] = rng.standard_normal((inter, h)).astype(np.float16)
        tensors[p + "mlp.down_proj.weight"] = rng.integers(-127, 127, size=(h, inter), dtype=np.int8)
    tensors["model.norm.weight"] = np.ones(h, dtype=np.float32)
    if not config.get("tie_word_embeddings", False):
        tensors["lm_head.weight"] = rng.standard_normal((vocab, h)).astype(np.float16)
    names = list(tensors)
    per = -(-len(names) // shards)
    return [{n: tensors[n] for n in names[k * per : (k + 1) * per]} for k in range(shards)]


def add_sharded_safetensors(repo: MockRepo, shard_arrays: list[dict], *, prefix: str = "model") -> None:
    """Serialise ``shard_arrays`` with ``safetensors.numpy`` into ``repo`` plus the index json."""
    from safetensors.numpy import save

    n = len(shard_arrays)
    weight_map: dict[str, str] = {}
    total = 0
    for k, arrays in enumerate(shard_arrays, start=1):
        name = f"{prefix}-{k:05d}-of-{n:05d}.safetensors" if n > 1 else f"{prefix}.safetensors"
        data = save(arrays, metadata={"format": "pt"})
        repo.files[name] = data
        total += sum(a.nbytes for a in arrays.values())
        weight_map.update({t: name for t in arrays})
    if n > 1:
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        repo.files[f"{prefix}.safetensors.index.json"] = json.dumps(index, indent=2).encode()


TINY_LLAMA = "lmscope-test/tiny-llama"
GATED = "meta-llama/Llama-3.2-1B"
PRIVATE = "private-org/secret-model"
GATED_TINY = "lmscope-test/gated-tiny"  # gated and not in the built-in catalog: resolves through the Hub
QWEN = "Qwen/Qwen3-0.6B"


def standard_hub() -> MockHub:
    """The repos most tests use (not started)."""
    hub = MockHub()
    tiny = hub.load_fixture_repo(
        TINY_LLAMA,
        downloads=1234,
        likes=56,
        tags=["transformers", "safetensors", "llama", "text-generation", "license:apache-2.0"],
        pipeline_tag="text-generation",
        last_modified="2025-06-01T12:00:00.000Z",
    )
    config = json.loads(tiny.files["config.json"])
    add_sharded_safetensors(tiny, tiny_llama_tensors(config, shards=2))
    hub.config_repo(
        GATED,
        gated="manual",
        downloads=2_000_000,
        likes=2000,
        tags=["transformers", "safetensors", "llama", "text-generation", "license:llama3.2"],
        pipeline_tag="text-generation",
        last_modified="2024-10-24T00:00:00.000Z",
        safetensors={"parameters": {"BF16": 1_235_814_400}, "total": 1_235_814_400},
        extra_siblings={"model.safetensors": 2_471_645_608},
    )
    hub.config_repo(
        QWEN,
        downloads=5_000_000,
        likes=700,
        tags=["transformers", "safetensors", "qwen3", "text-generation", "conversational"],
        pipeline_tag="text-generation",
        card_data={"license": "apache-2.0"},
        last_modified="2025-07-26T00:00:00.000Z",
        safetensors={"parameters": {"BF16": 751_632_384}, "total": 751_632_384},
        extra_siblings={"model.safetensors": 1_503_300_328},
    )
    hub.config_repo(
        "Qwen/Qwen3-8B",
        downloads=3_000_000,
        likes=900,
        tags=["transformers", "safetensors", "qwen3", "text-generation", "license:apache-2.0"],
        pipeline_tag="text-generation",
        last_modified="2025-05-21T00:00:00.000Z",
    )
    hub.config_repo(
        "google-bert/bert-base-uncased",
        downloads=50_000_000,
        likes=2500,
        tags=["transformers", "pytorch", "bert", "fill-mask", "license:apache-2.0"],
        pipeline_tag="fill-mask",
        last_modified="2024-02-19T00:00:00.000Z",
    )
    gated_tiny = hub.add_repo(
        MockRepo(GATED_TINY, gated="auto", downloads=10, likes=1, tags=["text-generation"], pipeline_tag="text-generation")
    )
    gated_tiny.files.update({k: v for k, v in tiny.files.items()})
    secret = hub.add_repo(MockRepo(PRIVATE, private=True, tags=["text-generation"], pipeline_tag="text-generation"))
    secret.files["config.json"] = tiny.files["config.json"]
    return hub


def self_signed_cert(folder: Path) -> tuple[str, str] | None:
    """A throw-away certificate for 127.0.0.1 made with the openssl CLI, or None without openssl."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    proc = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    return (str(cert), str(key)) if proc.returncode == 0 else None
