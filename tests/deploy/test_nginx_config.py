"""deploy/nginx/astrocoffee.conf (compose's nginx): `nginx -t` on Debian's nginx, and its
upstreams are compose services. (tests/e2e/test_nginx.py puts it in front of real processes.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from devkit.ports import free_port
from tests.deploy.support import nginx_binary, run

UPSTREAM = re.compile(r"^(\s*server\s+)([\w.-]+):(\d+)", re.M)


@pytest.fixture(scope="module")
def site(root: Path) -> str:
    return (root / "deploy" / "nginx" / "astrocoffee.conf").read_text()


def test_nginx_accepts_the_config(site: str, tmp_path: Path) -> None:
    """nginx resolves upstream names while it checks: the compose names (app1, app2) become
    local addresses, and the listening port a free one, inside a minimal nginx.conf."""
    assert UPSTREAM.search(site), "astrocoffee.conf: no `server host:port` upstream lines"
    assert site.count("listen 8080;") == 1, "astrocoffee.conf: expected exactly one `listen 8080;`"
    local = UPSTREAM.sub(lambda m: f"{m[1]}127.0.0.1:{m[3]}", site)
    local = local.replace("listen 8080;", f"listen 127.0.0.1:{free_port()};")
    (tmp_path / "site.conf").write_text(local)
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    (tmp_path / "nginx.conf").write_text(
        "worker_processes 1;\npid nginx.pid;\nerror_log stderr warn;\n"
        "events { worker_connections 64; }\n"
        f"http {{\n  {mime}\n  access_log off;\n  include {tmp_path / 'site.conf'};\n}}\n"
    )
    test = [nginx_binary(), "-t", "-e", "stderr", "-p", str(tmp_path)]
    checked = run([*test, "-c", str(tmp_path / "nginx.conf")])
    assert checked.returncode == 0, f"nginx -t deploy/nginx/astrocoffee.conf:\n{checked.stderr}"


def test_nginx_upstreams_are_compose_services(site: str, services: dict[str, Any]) -> None:
    unknown = [host for _, host, _ in UPSTREAM.findall(site) if host not in services]
    assert not unknown, f"astrocoffee.conf: upstreams {unknown} are not compose services"
