"""Asynchronous Kubernetes client helpers shared by Liqo's controllers."""

from liqo_core.kube.client import (
    KubeConfigError,
    KubeTarget,
    connection_info,
    load_configuration,
    new_api_client,
)
from liqo_core.kube.rest import JSONObject, api_status, describe_error, request_json

__all__ = [
    "JSONObject",
    "KubeConfigError",
    "KubeTarget",
    "api_status",
    "connection_info",
    "describe_error",
    "load_configuration",
    "new_api_client",
    "request_json",
]
