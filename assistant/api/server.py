"""The server: the API with the Gradio app mounted at /, one process, one Assistant; its upload
folder made safe and cleared of what a killed server left."""
from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from fastapi import FastAPI

from ..auth import Users, is_loopback, load_users
from ..errors import ConfigError
from ..service import Assistant
from ..settings import Settings
from ..web.files import UploadLedger
from ..web.sessions import WebSessions
from .routes import create_api

log = logging.getLogger(__name__)
UPLOAD_LEFTOVER_AGE_S = 24 * 3600.0  # with a shared server store, older uploads are surely abandoned


def upload_dir(settings: Settings) -> Path:
    """Gradio's dedicated upload folder: outside the data folder, which Gradio may never serve."""
    import tempfile

    folder = Path(settings.upload_temp_dir or Path(tempfile.gettempdir()) / "newsroom-uploads").expanduser().resolve()
    data = settings.data_dir.expanduser().resolve()
    if folder == data or data in folder.parents:
        raise ConfigError(f"NEWSROOM_UPLOAD_TEMP_DIR ({folder}) must be outside the data folder ({data})")
    return folder


def check_serving(settings: Settings, users: Users) -> None:
    """Refuse an open server off the loopback, and logins with nobody to log in."""
    if users.enabled and not users.users:
        raise ConfigError("logins are on but there are no users: set NEWSROOM_USERS_FILE to a users file "
                          "(hashes from `newsroom hash-password`), or NEWSROOM_AUTH=off")
    if not users.enabled and not is_loopback(settings.host) and settings.auth != "off":
        raise ConfigError(f"refusing to serve on {settings.host} without logins: set NEWSROOM_USERS_FILE "
                          "or, if a proxy in front already checks access, NEWSROOM_AUTH=off")
    if not settings.public_url and not is_loopback(settings.host):
        raise ConfigError(f"serving on {settings.host}: set NEWSROOM_PUBLIC_URL to the address users open "
                          "(e.g. https://newsroom.example); the page never takes it from request headers")


def public_url(settings: Settings) -> str:
    """The app's root URL as configured (on the loopback: this server's own address)."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def clean_upload_leftovers(settings: Settings, folder: Path) -> int:
    """Remove what uploads left behind (a server killed mid-upload): the web app's upload folder, and
    ``<data>/uploads`` when this server holds the embedded store alone (a shared server store may have
    other app processes uploading: there only leftovers older than a day go). Returns the count."""
    removed = 0
    api_cutoff = time.time() - (0 if settings.embedded else UPLOAD_LEFTOVER_AGE_S)
    for root, cutoff in ((folder, time.time()), (settings.data_dir / "uploads", api_cutoff)):
        for entry in root.iterdir() if root.is_dir() else ():
            try:
                if entry.lstat().st_mtime > cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed += 1
            except OSError as exc:
                log.warning("could not remove upload leftover %s: %s", entry, exc)
    return removed


def create_server(settings: Settings) -> tuple[FastAPI, Assistant]:
    """The API with the Gradio app mounted at / (logins, upload limits and file-route hardening applied)."""
    users = load_users(settings)
    check_serving(settings, users)
    folder = upload_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():  # a folder planted in a shared /tmp
        raise ConfigError(f"the upload folder {folder} belongs to another user: set NEWSROOM_UPLOAD_TEMP_DIR")
    folder.chmod(0o700)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)  # before Gradio builds its app and components
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from ..web.app import CSS, create_app

    clean_upload_leftovers(settings, folder)
    assistant = Assistant(settings)
    data = settings.data_dir.expanduser().resolve()
    blocked = [str(data)]
    if settings.users_file:
        blocked.append(str(Path(settings.users_file).expanduser().resolve()))
    ledger, sessions = UploadLedger(folder), WebSessions()
    api = create_api(assistant, users, sessions, ledger)
    app = gr.mount_gradio_app(
        api,
        create_app(assistant, users, ledger).queue(max_size=64, default_concurrency_limit=4),
        path="/",
        root_path=public_url(settings),
        auth=users.verify if users.enabled else None,
        auth_message="Newsroom assistant: log in with your newsroom account." if users.enabled else None,
        allowed_paths=[],
        blocked_paths=blocked,
        max_file_size=int(settings.max_upload_mb * 1024 * 1024),
        enable_monitoring=False,
        show_error=False,
        footer_links=[],
        ssr_mode=False,
        mcp_server=False,
        css=CSS,
    )
    sessions.bind(app)
    return app, assistant


def serve(settings: Settings) -> None:
    import uvicorn

    app, assistant = create_server(settings)
    assistant.store  # open the store now: a held store fails here with a clear message, not on first question
    assistant.start_parsers()  # in the background: the first upload then waits for no parser process to boot
    print(f"newsroom: serving on http://{settings.host}:{settings.port}  (mode: {assistant.mode})", flush=True)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        assistant.close()
