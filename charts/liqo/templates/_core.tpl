{{/*
Core (always on): the ForeignCluster reconciler, the CRD replicator (when a module needs
it) and the controller-manager's own needs.
*/}}

{{/* Cluster-wide rules of the controller-manager's core. */}}
{{- define "liqo.core.clusterRules" -}}
- apiGroups: ["core.liqo.io"]
  resources: ["foreignclusters"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["core.liqo.io"]
  resources: ["foreignclusters/status", "foreignclusters/finalizers"]
  verbs: ["get", "update", "patch"]
- apiGroups: [""]
  resources: ["namespaces", "configmaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["get", "list", "watch"]
{{- end -}}

{{/*
Cluster-wide rules of the CRD replicator, which the core runs when a module declaring
replicated kinds is on (authentication: ResourceSlices and Renews; offloading:
NamespaceMaps): it watches the ControlPlane kubeconfig Secrets (finalizer
crdreplicator.liqo.io/operator), the local objects to replicate (finalizer
crdreplicator.liqo.io/resource) and writes back their status.
*/}}
{{- define "liqo.core.replicatorRules" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "update", "patch"]
{{- if .Values.authentication.enabled }}
- apiGroups: ["authentication.liqo.io"]
  resources: ["resourceslices", "renews"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["authentication.liqo.io"]
  resources:
    - "resourceslices/status"
    - "resourceslices/finalizers"
    - "renews/status"
    - "renews/finalizers"
  verbs: ["get", "update", "patch"]
{{- end }}
{{- if .Values.offloading.enabled }}
- apiGroups: ["offloading.liqo.io"]
  resources: ["namespacemaps"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["offloading.liqo.io"]
  resources: ["namespacemaps/status", "namespacemaps/finalizers"]
  verbs: ["get", "update", "patch"]
{{- end }}
{{- end -}}

{{/* Rules of the controller-manager inside the Liqo namespace (leader election). */}}
{{- define "liqo.core.namespaceRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
{{- end -}}
