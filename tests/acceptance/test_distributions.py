"""What a user installs: the product's wheel carries no simulator, the simulators ship apart.

Both wheels are built the way a release would build them (`uv build --wheel`) and read back
as zip files. A gateway's and a panel's simulator are then started the way their docstrings
say, each as its own process (the chaos test starts SolusVM 2's the same way).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.acceptance

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
SIMULATORS = (
    "stripe",
    "mollie",
    "paypal",
    "coingate",
    "solusvm2",
    "virtualizor",
    "pterodactyl",
    "whm",
)


def build_wheel(package: str, out: Path) -> zipfile.ZipFile:
    """`uv build --wheel` of one workspace member into `out`; the wheel, opened."""
    subprocess.run(
        [str(UV), "build", "--wheel", "--package", package, "--out-dir", str(out), "--quiet"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob(f"{package.replace('-', '_')}-*.whl")
    return zipfile.ZipFile(wheel)


def metadata(wheel: zipfile.ZipFile, name: str) -> str:
    """The text of one file of the wheel's `.dist-info`."""
    (path,) = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(path).decode()


def test_the_product_wheel_holds_no_simulator(tmp_path: Path) -> None:
    wheel = build_wheel("fluxbilling", tmp_path)
    names = wheel.namelist()
    assert "fluxbilling/cli.py" in names  # the product is there
    assert "fluxbilling/plugins_builtin/solusvm2.json" in names
    assert "fluxbilling/console/index.html" in names  # the console `make install` built
    assert any(n.startswith("fluxbilling/console/assets/") for n in names)
    assert [n for n in names if "simulator" in n or "demo" in n] == []
    assert {n.split("/")[0] for n in names if not n.startswith("fluxbilling-")} == {"fluxbilling"}
    requires = [
        line for line in metadata(wheel, "METADATA").splitlines() if "Requires-Dist" in line
    ]
    assert requires, "the product declares its dependencies"
    assert not any("simulators" in line or "aiosmtpd" in line for line in requires)
    assert "fluxbilling-demo" not in metadata(wheel, "entry_points.txt")


def test_the_simulators_wheel_holds_the_simulators_and_the_demo(tmp_path: Path) -> None:
    wheel = build_wheel("fluxbilling-simulators", tmp_path)
    names = wheel.namelist()
    for module in (*SIMULATORS, "panels", "mailbox", "demo"):
        assert f"fluxbilling_simulators/{module}.py" in names
    assert not any(n.startswith("fluxbilling/") for n in names)
    assert "Requires-Dist: fluxbilling\n" in metadata(wheel, "METADATA")
    assert "fluxbilling-demo = fluxbilling_simulators.demo:main" in metadata(
        wheel, "entry_points.txt"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# A gateway and a panel, each by what only its own state holds.
@pytest.mark.parametrize(("simulator", "key"), [("stripe", "sessions"), ("pterodactyl", "nests")])
def test_a_simulator_runs_standalone_on_the_port_asked_for(simulator: str, key: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
    argv = [sys.executable, "-m", f"fluxbilling_simulators.{simulator}", "--port", str(port)]
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as process:
        try:
            answer = wait_for_state(process, port)
        finally:
            process.terminate()
    assert answer.status_code == 200, answer.text
    assert key in answer.json()


def wait_for_state(process: subprocess.Popen[bytes], port: int) -> httpx.Response:
    """`GET /_sim/state` once the simulator listens; fails when the process died or never did."""
    # A gateway simulator imports the product's billing (about 2 s of CPU alone): give a
    # loaded machine (the suite runs one worker per core) room before calling it dead.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=10)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port} within 90 s")
