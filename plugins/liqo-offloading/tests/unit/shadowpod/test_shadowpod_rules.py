"""The ShadowPod admission rules: creator, origin, updates and the Quota."""

from __future__ import annotations

from typing import Any

from liqo_offloading.shadowpod import rules

from liqo_core.kube.quantity import Quantity

USER = "slice-a-0011aabbccdd"


def container(name: str = "app", requests: Any = None, limits: Any = None) -> dict[str, Any]:
    resources = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "image": "app:1", "resources": resources}


def shadow(*containers: dict[str, Any], init: Any = None, **labels: str) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": list(containers or [container()])}
    if init:
        pod["initContainers"] = init
    return {
        "metadata": {
            "name": "web", "namespace": "app-c",
            "labels": {"offloading.liqo.io/origin": "c", "liqo.io/creator-user": USER, **labels},
        },
        "spec": {"pod": pod},
    }  # fmt: skip


def quota(enforcement: str = "None", cordoned: bool = False, **resources: str) -> dict[str, Any]:
    return {
        "metadata": {"name": USER, "namespace": "liqo-tenant-c"},
        "spec": {"user": USER, "limitsEnforcement": enforcement, "cordoned": cordoned,
                 "resources": resources or {"cpu": "2", "memory": "4Gi"}},
    }  # fmt: skip


def q(text: str) -> Quantity:
    return Quantity.parse(text)


def test_user_names_are_escaped_into_label_values() -> None:
    assert rules.escape_label("system:serviceaccount:ns:sa") == "system-serviceaccount-ns-sa"
    assert rules.escape_label("a.b_c-d9") == "a.b_c-d9"
    assert rules.escape_label("é@x") == "--x"


def test_the_creator_is_the_requester_and_cannot_change() -> None:
    assert rules.creator_stamp("CREATE", None, {"username": "u:1"}) == ("u-1", [])
    assert rules.creator_stamp("CREATE", None, {})[1] == [
        "the request has no user to record as creator"
    ]
    old = shadow()
    assert rules.creator_stamp("UPDATE", old, {"username": USER}) == (USER, [])
    creator, problems = rules.creator_stamp("UPDATE", old, {"username": "someone"})
    assert creator is None
    assert problems == [
        f"label liqo.io/creator-user is immutable and only its creator {USER!r} may update the "
        "ShadowPod (requested by 'someone')"
    ]
    unlabelled = {"metadata": {"labels": {}}}
    assert rules.creator_stamp("UPDATE", unlabelled, {"username": USER})[1] == [
        "label liqo.io/creator-user is missing: the creator is unknown"
    ]
    # The garbage collector may finish the deletion of what others created.
    deleting = shadow()
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert rules.creator_stamp("UPDATE", deleting, {"username": "system:gc"}) == (USER, [])


def test_the_origin_must_be_the_namespace_cluster() -> None:
    namespace = {"metadata": {"name": "app-c", "labels": {"liqo.io/remote-cluster-id": "c"}}}
    assert rules.origin_problems(shadow(), namespace) == []
    other = {"metadata": {"name": "app-c", "labels": {"liqo.io/remote-cluster-id": "d"}}}
    assert rules.origin_problems(shadow(), other) == [
        "label offloading.liqo.io/origin='c' does not match the cluster of namespace 'app-c' "
        "(liqo.io/remote-cluster-id='d')"
    ]
    assert rules.origin_problems(shadow(), None) == ["namespace 'app-c' not found"]
    orphan = shadow()
    del orphan["metadata"]["labels"]["offloading.liqo.io/origin"]
    assert rules.origin_problems(orphan, namespace) == [
        "label offloading.liqo.io/origin (the consumer cluster) is missing"
    ]


def test_updates_may_change_images_deadlines_and_tolerations_only() -> None:
    old = shadow()
    new = shadow()
    new["spec"]["pod"]["containers"][0]["image"] = "app:2"
    new["spec"]["pod"]["activeDeadlineSeconds"] = 30
    new["spec"]["pod"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    new["metadata"]["labels"]["team"] = "x"
    assert rules.update_problems(old, new) == []
    new["spec"]["pod"]["containers"][0]["command"] = ["sh"]
    assert rules.update_problems(old, new) == [
        "spec.pod is immutable but for container images, activeDeadlineSeconds and tolerations"
    ]
    moved = shadow(**{"offloading.liqo.io/origin": "d", "liqo.io/creator-user": "x"})
    assert rules.update_problems(old, moved) == [
        "label offloading.liqo.io/origin is immutable ('c' → 'd')",
        f"label liqo.io/creator-user is immutable ({USER!r} → 'x')",
    ]


def test_requests_sum_containers_and_take_the_largest_init_container() -> None:
    spec = shadow(
        container("a", {"cpu": "500m", "memory": "1Gi"}),
        container("b", {"cpu": "1", "memory": "512Mi"}),
        init=[container("i", {"cpu": "2", "memory": "128Mi"}), container("j", {"cpu": "1"})],
    )["spec"]["pod"]
    requested, problems = rules.pod_requests(spec)
    assert problems == []
    assert requested == {"cpu": q("2"), "memory": q("1536Mi")}


def test_soft_enforcement_requires_cpu_and_memory_requests() -> None:
    spec = shadow(container("a", {"cpu": "1"}), init=[container("i")])["spec"]["pod"]
    assert rules.pod_requests(spec, "None")[1] == []
    assert rules.pod_requests(spec, "Soft")[1] == [
        "container 'a' sets no memory requests (required by limitsEnforcement Soft)",
        "init container 'i' sets no cpu and memory requests (required by limitsEnforcement Soft)",
    ]


def test_hard_enforcement_requires_limits_equal_to_requests() -> None:
    equal = container("a", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1000m", "memory": "1Gi"})
    assert rules.pod_requests(shadow(equal)["spec"]["pod"], "Hard")[1] == []
    unequal = container("a", {"cpu": "1", "memory": "1Gi"}, {"cpu": "2"})
    assert rules.pod_requests(shadow(unequal)["spec"]["pod"], "Hard")[1] == [
        "container 'a': its cpu limit (2) must equal its request (1) (limitsEnforcement Hard)",
        "container 'a': its memory limit (none) must equal its request (1Gi) "
        "(limitsEnforcement Hard)",
    ]


def test_invalid_quantities_and_empty_pods_are_refused() -> None:
    spec = shadow(container("a", {"cpu": "lots"}))["spec"]["pod"]
    [problem] = rules.pod_requests(spec)[1]
    assert problem.startswith("container 'a' requests: cpu: invalid quantity 'lots'")
    assert rules.pod_requests({"containers": []})[1] == ["the pod has no containers"]


def test_the_quota_must_hold_what_is_requested_with_what_is_in_use() -> None:
    requested = {"cpu": q("1"), "memory": q("1Gi")}
    assert rules.quota_problems(quota(), requested, {}) == []
    used = {"cpu": q("1500m")}
    assert rules.quota_problems(quota(), requested, used) == [
        f"the cpu quota of user {USER!r} is exceeded: requested 1, in use 1500m of 2 (free 500m)"
    ]
    assert rules.quota_problems(quota(), {"nvidia.com/gpu": q("1")}, {}) == [
        f"nvidia.com/gpu is requested (1) but the Quota of user {USER!r} grants none"
    ]


def test_admission_under_each_enforcement() -> None:
    bare = shadow(container("a"))
    fits = shadow(container("a", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"}))
    big = shadow(container("a", {"cpu": "3", "memory": "1Gi"}))
    # None: nothing required, but what is requested must fit.
    assert rules.admission_problems(bare, quota("None"), {}) == ({}, [])
    assert rules.admission_problems(fits, quota("None"), {})[1] == []
    assert "the cpu quota" in rules.admission_problems(big, quota("None"), {})[1][0]
    # Soft: requests required.
    assert (
        "sets no cpu and memory requests" in rules.admission_problems(bare, quota("Soft"), {})[1][0]
    )
    assert rules.admission_problems(fits, quota("Soft"), {})[1] == []
    # Hard: requests equal to limits.
    assert rules.admission_problems(fits, quota("Hard"), {})[1] == []
    unequal = shadow(container("a", {"cpu": "1", "memory": "1Gi"}))
    assert "must equal its request" in rules.admission_problems(unequal, quota("Hard"), {})[1][0]
    # Cordoned, missing, no creator.
    assert rules.admission_problems(fits, quota(cordoned=True), {})[1] == [
        f"the Quota of user {USER!r} is cordoned: no new pods are accepted"
    ]
    assert rules.admission_problems(fits, None, {})[1] == [
        f"no Quota for user {USER!r}: its pods are not accepted"
    ]
    anonymous = shadow()
    del anonymous["metadata"]["labels"]["liqo.io/creator-user"]
    assert rules.admission_problems(anonymous, quota(), {})[1] == [
        "label liqo.io/creator-user is missing: the creator is unknown"
    ]


def test_the_quota_of_a_creator_is_found_by_its_escaped_user() -> None:
    sa = {"spec": {"user": "system:serviceaccount:ns:sa"}}
    assert rules.quota_of([quota(), sa], "system-serviceaccount-ns-sa") is sa
    assert rules.quota_of([quota()], "nobody") is None
