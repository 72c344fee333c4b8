"""Names of the objects the authentication module reads and writes (upstream's)."""

from __future__ import annotations

from typing import Final

from liqo_core.api.consts import REMOTE_CLUSTER_ID_LABEL, TENANT_NAMESPACE_LABEL

#: Secret in the Liqo namespace holding this cluster's key pair.
KEYS_SECRET: Final = "authentication-keys"
PRIVATE_KEY: Final = "privateKey"
PUBLIC_KEY: Final = "publicKey"

#: Provider: Secret holding the nonce a consumer must sign.
NONCE_SECRET: Final = "liqo-nonce"
NONCE_KEY: Final = "nonce"
#: Consumer: Secret holding the provider's nonce and its signature.
SIGNED_NONCE_SECRET: Final = "liqo-signed-nonce"
SIGNED_NONCE_KEY: Final = "signedNonce"

#: Provider: Secret (tenant namespace) holding the certificate issued to the consumer.
REMOTE_CERTIFICATE_SECRET: Final = "liqo-remote-certificate"
CERTIFICATE_KEY: Final = "certificate"

#: Consumer: data key of a kubeconfig Secret.
KUBECONFIG_KEY: Final = "kubeconfig"
KUBECONFIG_SECRET_PREFIX: Final = "kubeconfig-"
CONTROL_PLANE_IDENTITY_PREFIX: Final = "controlplane-"

TENANT_NAMESPACE_PREFIX: Final = "liqo-tenant-"
CLUSTER_ID_CONFIGMAP: Final = "liqo-clusterid-configmap"
CLUSTER_ID_KEY: Final = "CLUSTER_ID"

#: ``app.kubernetes.io/name`` of the ClusterRoles bound for a consumer.
REMOTE_CONTROLPLANE_ROLE: Final = "remote-controlplane"
VIRTUAL_KUBELET_CLUSTERWIDE_ROLE: Final = "virtual-kubelet-remote-clusterwide"

CSR_GENERATE_NAME: Final = "liqo-identity-"
CLIENT_SIGNER: Final = "kubernetes.io/kube-apiserver-client"
CSR_USAGES: Final = ("digital signature", "key encipherment", "client auth")

#: Pod Security labels of the tenant namespaces Liqo creates.
POD_SECURITY_LABELS: Final = {
    "pod-security.kubernetes.io/enforce": "privileged",
    "pod-security.kubernetes.io/audit": "privileged",
    "pod-security.kubernetes.io/warn": "privileged",
}


def default_tenant_namespace(remote_cluster_id: str) -> str:
    """Default name of the tenant namespace for a peer."""
    return f"{TENANT_NAMESPACE_PREFIX}{remote_cluster_id}"


def tenant_namespace_selector(remote_cluster_id: str) -> str:
    """Label selector of the tenant namespaces for a peer."""
    return f"{TENANT_NAMESPACE_LABEL}=true,{REMOTE_CLUSTER_ID_LABEL}={remote_cluster_id}"


def tenant_namespace_labels(remote_cluster_id: str) -> dict[str, str]:
    """Labels of a tenant namespace Liqo creates for a peer."""
    return {
        TENANT_NAMESPACE_LABEL: "true",
        REMOTE_CLUSTER_ID_LABEL: remote_cluster_id,
        **POD_SECURITY_LABELS,
    }
