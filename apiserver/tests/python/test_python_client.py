"""The official Kubernetes Python client against Podium's REST face.

Run by apiserver/tests/python.rs, which starts an apiserver and sets PODIUM_URL.
"""

import os
import uuid

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException


@pytest.fixture(scope="module")
def api():
    config = client.Configuration()
    config.host = os.environ["PODIUM_URL"]
    return client.ApiClient(config)


@pytest.fixture
def core(api):
    return client.CoreV1Api(api)


def pod(name, labels=None, image="busybox:1.36"):
    # No apiVersion or kind: the Python client leaves them out unless the caller sets them.
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image=image)]),
    )


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_create_read_and_defaults(core):
    name = unique("web")
    created = core.create_namespaced_pod("default", pod(name))
    assert created.metadata.uid
    assert created.spec.restart_policy == "Always"
    assert created.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert created.status.phase == "Pending"
    assert created.status.qos_class == "BestEffort"
    read = core.read_namespaced_pod(name, "default")
    assert read.metadata.resource_version == created.metadata.resource_version


def test_errors_are_api_exceptions_with_kubernetes_reasons(core):
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("does-not-exist", "default")
    assert missing.value.status == 404
    name = unique("dup")
    core.create_namespaced_pod("default", pod(name))
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_pod("default", pod(name))
    assert exists.value.status == 409
    assert '"reason":"AlreadyExists"' in exists.value.body.replace(" ", "")


def test_lists_with_selectors_and_paging(core):
    group = unique("g")
    names = [unique("p") for _ in range(5)]
    for i, name in enumerate(names):
        core.create_namespaced_pod("default", pod(name, {"group": group, "parity": str(i % 2)}))
    even = core.list_namespaced_pod("default", label_selector=f"group={group},parity=0")
    assert sorted(p.metadata.name for p in even.items) == sorted(names[0::2])
    by_name = core.list_namespaced_pod("default", field_selector=f"metadata.name={names[1]}")
    assert [p.metadata.name for p in by_name.items] == [names[1]]
    seen, token = [], None
    while True:
        page = core.list_namespaced_pod("default", label_selector=f"group={group}", limit=2, _continue=token)
        assert len(page.items) <= 2
        seen += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert sorted(seen) == sorted(names)
    everywhere = core.list_pod_for_all_namespaces(label_selector=f"group={group}")
    assert len(everywhere.items) == 5


def test_patch_replace_and_replace_status(core):
    name = unique("patch")
    core.create_namespaced_pod("default", pod(name, {"app": "x"}))
    patched = core.patch_namespaced_pod(name, "default", {"metadata": {"labels": {"tier": "web"}}})
    assert patched.metadata.labels == {"app": "x", "tier": "web"}
    current = core.read_namespaced_pod(name, "default")
    current.spec.containers[0].image = "busybox:1.37"
    replaced = core.replace_namespaced_pod(name, "default", current)
    assert replaced.spec.containers[0].image == "busybox:1.37"
    replaced.status.phase = "Running"
    replaced.status.pod_ip = "10.0.0.9"
    with_status = core.replace_namespaced_pod_status(name, "default", replaced)
    assert with_status.status.phase == "Running"
    assert with_status.status.pod_ip == "10.0.0.9"
    stale = current
    stale.metadata.labels = {"stale": "yes"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_pod(name, "default", stale)
    assert conflict.value.status == 409


def test_binding_and_delete(core):
    node = unique("node")
    core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=node)))
    name = unique("bound")
    core.create_namespaced_pod("default", pod(name))
    binding = client.V1Binding(
        metadata=client.V1ObjectMeta(name=name),
        target=client.V1ObjectReference(kind="Node", name=node),
    )
    # The client cannot read the Status a binding returns as a V1Binding (a known client
    # quirk), so read the raw reply.
    reply = core.create_namespaced_binding("default", binding, _preload_content=False)
    assert reply.status == 201
    assert core.read_namespaced_pod(name, "default").spec.node_name == node
    deleted = core.delete_namespaced_pod(name, "default")
    assert deleted.metadata.deletion_timestamp is not None
    core.delete_namespaced_pod(name, "default", grace_period_seconds=0)
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_pod(name, "default")
    assert gone.value.status == 404


def test_watch_from_a_version_and_from_now(core):
    group = unique("w")
    first = core.create_namespaced_pod("default", pod(unique("w0"), {"group": group}))
    later = unique("w1")
    core.create_namespaced_pod("default", pod(later, {"group": group}))
    events = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_pod, "default", label_selector=f"group={group}",
                          resource_version=first.metadata.resource_version, timeout_seconds=3):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 1:
            w.stop()
    assert events == [("ADDED", later)]
    names = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_pod, "default", label_selector=f"group={group}", timeout_seconds=3):
        names.append(event["object"].metadata.name)
        if len(names) == 2:
            w.stop()
    assert sorted(names) == sorted([first.metadata.name, later])


def test_nodes_and_events(core):
    node = unique("n")
    core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=node, labels={"zone": "a"})))
    core.patch_node(node, {"spec": {"unschedulable": True}})
    assert core.read_node(node).spec.unschedulable is True
    assert node in [n.metadata.name for n in core.list_node(label_selector="zone=a").items]
    status = core.read_node_status(node)
    assert status.metadata.name == node
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=unique("ev")),
        involved_object=client.V1ObjectReference(kind="Node", name=node),
        reason="Testing",
        message="hello",
        type="Normal",
    )
    core.create_namespaced_event("default", event)
    found = core.list_namespaced_event("default", field_selector=f"involvedObject.name={node}")
    assert [e.reason for e in found.items] == ["Testing"]
