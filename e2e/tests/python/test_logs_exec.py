"""The official Python client's logs and exec against a Podium cluster whose pod `chatty`
(containers `talker` and `quiet`) runs on a real agent; PODIUM_URL names the apiserver."""

import os
import time

import pytest
from kubernetes import client
from kubernetes.stream import stream


@pytest.fixture(scope="module")
def core():
    config = client.Configuration()
    config.host = os.environ["PODIUM_URL"]
    return client.CoreV1Api(client.ApiClient(config))


def test_read_namespaced_pod_log(core):
    deadline = time.time() + 20
    text = ""
    while "tick-1" not in text and time.time() < deadline:
        text = core.read_namespaced_pod_log("chatty", "default", container="talker")
        time.sleep(0.2)
    assert [l for l in text.splitlines() if l.startswith("line-")] == [f"line-{i}" for i in range(1, 6)], text[:200]
    tail = core.read_namespaced_pod_log("chatty", "default", container="talker", tail_lines=1)
    assert len(tail.splitlines()) == 1


def test_logs_of_a_pod_with_several_containers_need_a_container(core):
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_pod_log("chatty", "default")
    assert err.value.status == 400
    assert "a container name must be specified for pod chatty, choose one of: [talker quiet]" in err.value.body


def test_exec_with_output_and_exit_code(core):
    out = stream(
        core.connect_get_namespaced_pod_exec,
        "chatty",
        "default",
        container="quiet",
        command=["sh", "-c", "echo from-python"],
        stderr=True,
        stdin=False,
        stdout=True,
        tty=False,
    )
    assert out.strip() == "from-python"
    ws = stream(
        core.connect_get_namespaced_pod_exec,
        "chatty",
        "default",
        container="quiet",
        command=["sh", "-c", "read line; echo got-$line; exit 4"],
        stderr=True,
        stdin=True,
        stdout=True,
        tty=False,
        _preload_content=False,
    )
    ws.write_stdin("abc\n")
    ws.run_forever(timeout=20)
    assert "got-abc" in ws.read_stdout()
    assert ws.returncode == 4
