"""Well-known label keys, annotation keys, finalizers and condition names of Liqo v1.

Controllers, webhooks and ``liqoctl`` join objects through these strings, so they are
kept byte-for-byte identical to upstream Liqo: a manifest written for upstream works here.
"""

from __future__ import annotations

from typing import Final

# --- Labels: the universal join key and authentication -------------------------------------
REMOTE_CLUSTER_ID_LABEL: Final = "liqo.io/remote-cluster-id"
TENANT_NAMESPACE_LABEL: Final = "liqo.io/tenant-namespace"
NONCE_SECRET_LABEL: Final = "liqo.io/nonce"
SIGNED_NONCE_SECRET_LABEL: Final = "liqo.io/signed-nonce"
IDENTITY_TYPE_LABEL: Final = "liqo.io/identity-type"
RESOURCE_SLICE_NAME_LABEL: Final = "liqo.io/resourceslice-name"
CREATOR_USER_LABEL: Final = "liqo.io/creator-user"

# --- Labels: CRD replication ----------------------------------------------------------------
REPLICATION_REQUESTED_LABEL: Final = "liqo.io/replication"
REPLICATION_DESTINATION_LABEL: Final = "liqo.io/remoteID"
REPLICATION_ORIGIN_LABEL: Final = "liqo.io/originID"
REPLICATION_STATUS_LABEL: Final = "liqo.io/replicated"
REPLICATION_OWNERSHIP_LABEL: Final = "liqo.io/ownership"

# --- Labels: offloading -----------------------------------------------------------------------
TYPE_LABEL: Final = "liqo.io/type"
TYPE_VIRTUAL_NODE: Final = "virtual-node"
SCHEDULING_ENABLED_LABEL: Final = "liqo.io/scheduling-enabled"
SHADOW_POD_LABEL: Final = "liqo.io/shadowPod"
MANAGED_BY_LABEL: Final = "liqo.io/managed-by"
REMOTE_UNAVAILABLE_LABEL: Final = "liqo.io/remote-unavailable"
MANAGED_LABEL: Final = "liqo.io/managed"
VIRTUAL_NODE_TAINT_KEY: Final = "virtual-node.liqo.io/not-allowed"
K8S_APP_NAME_LABEL: Final = "app.kubernetes.io/name"

# --- Labels: networking and IPAM --------------------------------------------------------------
GATEWAY_RESOURCE_LABEL: Final = "networking.liqo.io/gateway-resource"
GATEWAY_TEMPLATE_LABEL: Final = "networking.liqo.io/gatewaytemplate"
GATEWAY_ACTIVE_LABEL: Final = "networking.liqo.io/active"
ROUTE_CATEGORY_LABEL: Final = "networking.liqo.io/route-category"
ROUTE_SUBCATEGORY_LABEL: Final = "networking.liqo.io/route-subcategory"
ROUTE_UNIQUE_LABEL: Final = "networking.liqo.io/route-unique"
FIREWALL_CATEGORY_LABEL: Final = "networking.liqo.io/firewall-category"
FIREWALL_SUBCATEGORY_LABEL: Final = "networking.liqo.io/firewall-subcategory"
FIREWALL_UNIQUE_LABEL: Final = "networking.liqo.io/firewall-unique"
INTERNAL_FABRIC_NAME_LABEL: Final = "networking.liqo.io/internal-fabric-name"
INTERNAL_NODE_NAME_LABEL: Final = "networking.liqo.io/internal-node-name"
HOST_UNREACHABLE_LABEL: Final = "networking.liqo.io/host-unreachable"
CIDR_TYPE_LABEL: Final = "configuration.liqo.io/cidr-type"
NETWORK_TYPE_LABEL: Final = "ipam.liqo.io/network-type"
NETWORK_NOT_REMAPPED_LABEL: Final = "ipam.liqo.io/network-not-remapped"
NETWORK_SHARED_LABEL: Final = "ipam.liqo.io/network-shared"
IP_TYPE_LABEL: Final = "ipam.liqo.io/ip-type"
NETWORK_NAME_LABEL: Final = "ipam.liqo.io/network-name"
NETWORK_NAMESPACE_LABEL: Final = "ipam.liqo.io/network-namespace"
IPAM_ENDPOINTSLICE_LABEL: Final = "ipam.liqo.io/endpointslice"

# --- Annotations ------------------------------------------------------------------------------
REMOTE_TENANT_NAMESPACE_ANNOTATION: Final = "liqo.io/remote-tenant-namespace"
CREATE_VIRTUAL_NODE_ANNOTATION: Final = "liqo.io/create-virtual-node"
CORDON_ANNOTATION: Final = "liqo.io/cordon"
CORDON_TENANT_ANNOTATION: Final = "liqo.io/cordon-tenant"
SKIP_REFLECTION_ANNOTATION: Final = "liqo.io/skip-reflection"
ALLOW_REFLECTION_ANNOTATION: Final = "liqo.io/allow-reflection"
FORCE_REMOTE_NODE_PORT_ANNOTATION: Final = "liqo.io/force-remote-node-port"
ANTI_AFFINITY_PRESET_ANNOTATION: Final = "liqo.io/anti-affinity-preset"
ANTI_AFFINITY_LABELS_ANNOTATION: Final = "liqo.io/anti-affinity-labels"
REMOTE_RUNTIME_CLASS_ANNOTATION: Final = "liqo.io/remote-runtime-class-name"
REMOTE_STORAGE_CLASS_ANNOTATION: Final = "liqo.io/remote-storage-class"
REMOTE_ACCESS_MODES_ANNOTATION: Final = "liqo.io/remote-access-modes"
API_SERVER_SUPPORT_ANNOTATION: Final = "liqo.io/api-server-support"
MANAGED_BY_NAMESPACE_MAP_ANNOTATION: Final = "liqo.io/managed-by-namespace-map"
ORIGINAL_NAME_ANNOTATION: Final = "liqo.io/original-name"
USE_DIRECT_CONNECTIONS_ANNOTATION: Final = "liqo.io/use-direct-connections"
DIRECT_CONNECTIONS_DATA_ANNOTATION: Final = "liqo.io/direct-connections-data"
PREINSTALLED_ANNOTATION: Final = "liqo.io/preinstalled"
UNINSTALLING_ANNOTATION: Final = "liqo.io/uninstalling"
PERMANENTLY_UNREACHABLE_ANNOTATION: Final = "liqo.io/foreign-cluster-permanently-unreachable"

# --- Finalizers -------------------------------------------------------------------------------
TENANT_FINALIZER: Final = "tenant.liqo.io/finalizer"
VIRTUAL_NODE_FINALIZER: Final = "virtualnode-controller.liqo.io/finalizer"
NAMESPACE_OFFLOADING_FINALIZER: Final = "namespaceoffloading-controller.liqo.io/finalizer"
NAMESPACE_MAP_FINALIZER: Final = "namespacemap-controller.liqo.io/finalizer"
CRD_REPLICATOR_RESOURCE_FINALIZER: Final = "crdreplicator.liqo.io/resource"
CRD_REPLICATOR_OPERATOR_FINALIZER: Final = "crdreplicator.liqo.io/operator"
NETWORK_FINALIZER: Final = "network.ipam.liqo.io/finalizer"
IP_FINALIZER: Final = "ip.ipam.liqo.io/finalizer"
IP_MAPPING_FINALIZER: Final = "ipmapping-nat-controller.liqo.io/finalizer"
INTERNAL_NODES_ROUTE_FINALIZER: Final = "internalnodes-route.liqo.io/finalizer"
ROUTE_CONFIGURATION_FINALIZER: Final = "routeconfiguration-controller.liqo.io/finalizer"
FIREWALL_CONFIGURATION_FINALIZER: Final = "firewallconfigurations-controller.liqo.io/finalizer"
CLUSTER_ROLE_BINDING_FINALIZER: Final = "networking.liqo.io/clusterrolebinding"
GENEVE_TUNNEL_FINALIZER: Final = "networking.liqo.io/internal-fabric-geneve-tunnel-finalizer"
API_SERVER_CHECKER_FINALIZER: Final = "api-server-checker.liqo.io/finalizer"

# --- ForeignCluster conditions (Liqo enum style) ----------------------------------------------
CONDITION_API_SERVER: Final = "APIServerStatus"
CONDITION_NETWORK_CONFIGURATION: Final = "NetworkConfigurationStatus"
CONDITION_NETWORK_CONNECTION: Final = "NetworkConnectionStatus"
CONDITION_NETWORK_GATEWAY_PRESENCE: Final = "NetworkGatewayPresence"
CONDITION_NETWORK_GATEWAY_SERVER: Final = "NetworkGatewayServerStatus"
CONDITION_NETWORK_GATEWAY_CLIENT: Final = "NetworkGatewayClientStatus"
CONDITION_AUTH_IDENTITY_CONTROL_PLANE: Final = "AuthIdentityControlPlaneStatus"
CONDITION_AUTH_TENANT: Final = "AuthTenantStatus"
CONDITION_OFFLOADING_VIRTUAL_NODE: Final = "OffloadingVirtualNodeStatus"
CONDITION_OFFLOADING_NODE: Final = "OffloadingNodeStatus"

STATUS_NONE: Final = "None"
STATUS_PENDING: Final = "Pending"
STATUS_ESTABLISHED: Final = "Established"
STATUS_ERROR: Final = "Error"
STATUS_READY: Final = "Ready"
STATUS_NOT_READY: Final = "NotReady"
STATUS_SOME_NOT_READY: Final = "SomeNotReady"

# --- Typed conditions of other kinds ----------------------------------------------------------
RESOURCE_SLICE_CONDITION_AUTHENTICATION: Final = "Authentication"
RESOURCE_SLICE_CONDITION_RESOURCES: Final = "Resources"
RESOURCE_SLICE_ACCEPTED: Final = "Accepted"
RESOURCE_SLICE_DENIED: Final = "Denied"
VIRTUAL_NODE_CONDITION_VIRTUAL_KUBELET: Final = "VirtualKubelet"
VIRTUAL_NODE_CONDITION_NODE: Final = "Node"
NAMESPACE_CONDITION_OFFLOADING_REQUIRED: Final = "OffloadingRequired"
NAMESPACE_CONDITION_READY: Final = "Ready"
CONFIGURATION_CONDITION_APPLIED: Final = "Applied"
CONFIGURATION_CONDITION_ERROR: Final = "Error"
NETWORK_CIDRS_CONFIGURED_CONDITION: Final = "NetworkCIDRsConfigured"

# --- Offloading: virtual kubelets (upstream pkg/consts, pkg/vkMachinery) ----------------------
VIRTUAL_NODE_LABEL: Final = "liqo.io/virtual-node"
OFFLOADING_COMPONENT_LABEL: Final = "offloading.liqo.io/component"
VIRTUAL_KUBELET_COMPONENT: Final = "virtual-kubelet"
OFFLOADING_PATCH_HASH_ANNOTATION: Final = "liqo.io/offloading-patch-hash"

# --- Offloading: reflection by the virtual kubelet (upstream pkg/virtualKubelet/forge) --------
REFLECTION_ORIGIN_LABEL: Final = "offloading.liqo.io/origin"
REFLECTION_DESTINATION_LABEL: Final = "offloading.liqo.io/destination"
REFLECTION_NODE_NAME_LABEL: Final = "offloading.liqo.io/nodename"
MANAGED_BY_SHADOW_POD: Final = "shadowpod"
STORAGE_AVAILABLE_LABEL: Final = "storage.liqo.io/available"
REMOTE_SERVICE_ACCOUNT_NAME_ANNOTATION: Final = "liqo.io/remote-service-account-name"
LIQO_RUNTIME_CLASS: Final = "liqo"

# --- Offloading: provider side (upstream pkg/consts/namespace_mapping.go, labels.go) ----------
K8S_APP_MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
LIQO_APP_VALUE: Final = "liqo"
VIRTUAL_KUBELET_REMOTE_CLUSTER_ROLE: Final = "liqo-virtual-kubelet-remote"
KUBERNETES_API_SERVICE_HOST: Final = "kubernetes.default"
