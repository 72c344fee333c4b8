"""``authentication.liqo.io/v1beta1``: Tenant, Identity, ResourceSlice and Renew."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from liqo_core.api.base import IMMUTABLE, ApiModel, cel, validations
from liqo_core.api.common import IngressType, LoadBalancerType, StorageType
from liqo_core.api.conditions import Condition
from liqo_core.api.meta import LocalObjectReference
from liqo_core.api.resource import AGE_COLUMN, CRDInfo, CustomResource, PrinterColumn
from liqo_core.api.types import Base64, ClusterID, ResourceList, Time

GROUP = "authentication.liqo.io"
VERSION = "v1beta1"

AuthzPolicy = Literal["KeysExchange", "TolerateNoHandshake"]
TenantCondition = Literal["Active", "Cordoned", "Drained"]
IdentityType = Literal["ControlPlane", "ResourceSlice"]


class AwsConfig(ApiModel):
    """Credentials of an AWS IAM identity (EKS clusters)."""

    aws_user_arn: str
    """ARN of the IAM user."""
    aws_access_key_id: str
    """Access key ID of the IAM user."""
    aws_secret_access_key: str
    """Secret access key of the IAM user."""
    aws_region: str
    """AWS region of the EKS cluster."""
    aws_cluster_name: str
    """Name of the EKS cluster."""


class AuthParams(ApiModel):
    """What a consumer needs to build a kubeconfig for the provider."""

    ca: Base64 = ""
    """Certificate authority of the provider's API server (PEM, base64 on the wire)."""
    signed_crt: Base64 = ""
    """Client certificate issued by the provider (PEM, base64 on the wire)."""
    api_server: str = ""
    """URL of the provider's API server."""
    proxy_url: str | None = None
    """URL of an HTTP CONNECT proxy to reach the API server (in-band peering)."""
    aws_config: AwsConfig | None = None
    """AWS IAM credentials, instead of a certificate, for EKS providers."""
    token: str | None = None
    """Bearer token, instead of a certificate, from a token-based identity provider
    (``serviceaccount-token``). Not in upstream Liqo."""


class TenantSpec(ApiModel):
    """Consumer that asks for a peering, with its proof of identity."""

    cluster_id: Annotated[ClusterID, Field(json_schema_extra=validations(IMMUTABLE))]
    """Cluster ID of the consumer (immutable)."""
    authz_policy: AuthzPolicy = "KeysExchange"
    """KeysExchange verifies the nonce signature and CSR; TolerateNoHandshake skips it."""
    public_key: Base64 | None = None
    """Public key of the consumer (PEM or raw 32-byte Ed25519, base64 on the wire)."""
    csr: Base64 | None = None
    """Certificate signing request of the consumer's control plane (PEM)."""
    signature: Base64 | None = None
    """Signature of the provider's nonce made with the consumer's private key."""
    proxy_url: str | None = None
    """Proxy through which the consumer reaches the provider's API server, if any."""
    tenant_condition: TenantCondition = "Active"
    """Active serves the consumer; Cordoned grants no new resources; Drained revokes all."""


class TenantStatus(ApiModel):
    """Results of the handshake."""

    tenant_namespace: str | None = None
    """Tenant namespace created for the consumer."""
    auth_params: AuthParams | None = None
    """Credentials issued to the consumer's control plane."""
    conditions: list[Condition] | None = None
    """Outcome of the handshake: condition ``HandshakeVerified`` (``False`` names the reason
    a Tenant was refused). Not in upstream Liqo, whose Tenant reports refusals in events only."""


class Tenant(CustomResource):
    """A provider's record of one consumer cluster."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "Tenant",
        "tenants",
        short_names=("tn", "tnt"),
        printer_columns=(
            PrinterColumn("ClusterID", "string", ".spec.clusterID"),
            PrinterColumn("AuthzPolicy", "string", ".spec.authzPolicy", priority=1),
            PrinterColumn("Condition", "string", ".spec.tenantCondition"),
            PrinterColumn("TenantNamespace", "string", ".status.tenantNamespace", priority=1),
            AGE_COLUMN,
        ),
    )

    spec: TenantSpec
    """Consumer identity and policy."""
    status: TenantStatus | None = None
    """Handshake results."""


class IdentitySpec(ApiModel):
    """Credentials to act on a provider."""

    cluster_id: ClusterID
    """Cluster ID of the provider."""
    type: IdentityType
    """ControlPlane (peering control plane) or ResourceSlice (virtual kubelet of one slice)."""
    auth_params: AuthParams
    """Credentials issued by the provider."""
    namespace: str | None = None
    """Tenant namespace on the provider (default namespace of the kubeconfig)."""


class IdentityStatus(ApiModel):
    """Outputs of the identity controller."""

    kubeconfig_secret_ref: LocalObjectReference | None = None
    """Secret holding the kubeconfig built from this identity."""


class Identity(CustomResource):
    """A consumer's credentials to act on a provider."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "Identity",
        "identities",
        short_names=("id",),
        printer_columns=(
            PrinterColumn("ClusterID", "string", ".spec.clusterID"),
            PrinterColumn("Type", "string", ".spec.type"),
            PrinterColumn("KubeconfigSecret", "string", ".status.kubeconfigSecretRef.name"),
            AGE_COLUMN,
        ),
    )

    spec: IdentitySpec
    """Provider and credentials."""
    status: IdentityStatus | None = None
    """Generated kubeconfig."""


ResourceSliceConditionType = Literal["Authentication", "Resources"]
ResourceSliceConditionStatus = Literal["Accepted", "Denied"]


class ResourceSliceCondition(ApiModel):
    """Decision of the provider on one aspect of a ResourceSlice."""

    type: ResourceSliceConditionType
    """Authentication (credentials issued) or Resources (capacity granted)."""
    status: ResourceSliceConditionStatus
    """Accepted or Denied."""
    last_transition_time: Time | None = None
    """When the decision last changed."""
    reason: str | None = None
    """Machine-readable cause of the decision."""
    message: str | None = None
    """Human-readable detail of the decision."""


_CLASS_IMMUTABLE = cel(
    "has(self.class) == has(oldSelf.class) && (!has(self.class) || self.class == oldSelf.class)",
    "class is immutable",
    field_path=".class",
)


class ResourceSliceSpec(ApiModel):
    """Resources a consumer asks a provider for."""

    # On the spec, not the field: rules on an optional field do not run when it is unset.
    model_config = ConfigDict(json_schema_extra=validations(_CLASS_IMMUTABLE))

    consumer_cluster_id: ClusterID | None = None
    """Cluster ID of the consumer (filled in by Liqo)."""
    provider_cluster_id: ClusterID | None = None
    """Cluster ID of the provider (filled in by Liqo)."""
    resources: ResourceList | None = None
    """Requested resources (cpu, memory, pods, ...)."""
    class_: str | None = None
    """Slice class (immutable): empty or "default" for the built-in policy, else the name of an
    external class controller."""
    csr: Base64 | None = None
    """Certificate signing request of the slice's virtual kubelet (filled in by Liqo)."""


class ResourceSliceStatus(ApiModel):
    """Provider's answer, replicated back to the consumer."""

    conditions: list[ResourceSliceCondition] | None = None
    """Authentication and Resources decisions."""
    class_: str | None = None
    """Class the provider resolved when the consumer requested none (set at most once)."""
    resources: ResourceList | None = None
    """Granted resources."""
    auth_params: AuthParams | None = None
    """Credentials for the slice's virtual kubelet."""
    storage_classes: list[StorageType] | None = None
    """Storage classes offered."""
    ingress_classes: list[IngressType] | None = None
    """Ingress classes offered."""
    load_balancer_classes: list[LoadBalancerType] | None = None
    """Load balancer classes offered."""
    node_labels: dict[str, str] | None = None
    """Labels to put on the virtual node."""
    node_selector: dict[str, str] | None = None
    """Node selector applied to offloaded pods on the provider."""


class ResourceSlice(CustomResource):
    """A consumer's request for a slice of a provider's capacity."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "ResourceSlice",
        "resourceslices",
        short_names=("rslice",),
        printer_columns=(
            PrinterColumn(
                "Authentication",
                "string",
                '.status.conditions[?(@.type=="Authentication")].status',
            ),
            PrinterColumn(
                "Resources", "string", '.status.conditions[?(@.type=="Resources")].status'
            ),
            AGE_COLUMN,
        ),
    )

    spec: ResourceSliceSpec = Field(default_factory=ResourceSliceSpec)
    """Requested resources."""
    status: ResourceSliceStatus | None = None
    """Provider's answer."""


class RenewSpec(ApiModel):
    """Request to renew a consumer's credentials."""

    consumer_cluster_id: ClusterID
    """Cluster ID of the consumer."""
    public_key: Base64 | None = None
    """Public key of the consumer."""
    csr: Base64 | None = None
    """Certificate signing request for the renewed certificate."""
    identity_type: IdentityType
    """Kind of identity renewed."""
    resource_slice_ref: LocalObjectReference | None = None
    """ResourceSlice whose identity is renewed (ResourceSlice identities)."""


class RenewStatus(ApiModel):
    """Renewed credentials."""

    auth_params: AuthParams | None = None
    """Credentials issued by the provider."""


class Renew(CustomResource):
    """Replicated channel through which control-plane certificates are rotated."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "Renew",
        "renews",
        printer_columns=(
            PrinterColumn("ConsumerID", "string", ".spec.consumerClusterID"),
            PrinterColumn("IdentityType", "string", ".spec.identityType"),
            AGE_COLUMN,
        ),
    )

    spec: RenewSpec
    """What to renew."""
    status: RenewStatus | None = None
    """Renewed credentials."""


MODELS: list[type[CustomResource]] = [Tenant, Identity, ResourceSlice, Renew]
