"""The cluster ID: from values, else generated; the same in every object of a render."""

from __future__ import annotations

import hashlib
import re

import helm_python as helm
import pytest

from .conftest import RenderFn

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_cluster_id_from_values_lands_in_both_config_maps(render: RenderFn) -> None:
    rendered = render({"discovery": {"config": {"clusterID": "milan-1"}}})
    assert rendered.cluster_id() == "milan-1"
    assert rendered.settings()["clusterID"] == "milan-1"


def test_generated_cluster_id_is_one_uuid_per_render(render: RenderFn) -> None:
    first = render()
    assert UUID.match(first.cluster_id())
    # Decided once: the settings file and the cluster-ID ConfigMap agree.
    assert first.settings()["clusterID"] == first.cluster_id()
    # ... and it is random, not derived from the release.
    assert render().cluster_id() != first.cluster_id()


def test_config_checksum_covers_the_generated_cluster_id(render: RenderFn) -> None:
    """The pods' checksum is of the very settings (generated ID included) the ConfigMap holds."""
    rendered = render()
    annotations = rendered.get("Deployment", "liqo-controller-manager")["spec"]["template"][
        "metadata"
    ]["annotations"]
    settings_text = rendered.settings_text().rstrip("\n")
    assert rendered.cluster_id() in settings_text
    assert annotations["checksum/config"] == hashlib.sha256(settings_text.encode()).hexdigest()


@pytest.mark.parametrize(
    "bad",
    [
        "Milan",  # uppercase
        "milan_1",  # underscore
        "-milan",  # leading dash
        "milan-",  # trailing dash
        "milan.lombardy",  # dots: the ID names tenant namespaces, a DNS-1123 label
        "a" * 64,  # too long
    ],
)
def test_cluster_id_must_be_a_dns1123_label(render: RenderFn, bad: str) -> None:
    with pytest.raises(helm.HelmValuesError, match="/discovery/config/clusterID"):
        render({"discovery": {"config": {"clusterID": bad}}})


def test_longest_valid_cluster_id_is_accepted(render: RenderFn) -> None:
    longest = "a" + "-" * 61 + "z"
    assert render({"discovery": {"config": {"clusterID": longest}}}).cluster_id() == longest


def test_release_notes_show_the_cluster_id_and_modules(render: RenderFn) -> None:
    rendered = render({"offloading": {"enabled": False}})
    assert f"cluster ID: {rendered.cluster_id()}" in rendered.notes
    assert "modules:    networking, authentication\n" in rendered.notes
    assert "transport:  wireguard" in rendered.notes
    assert "transport:" not in render({"networking": {"enabled": False}}).notes
