{{/*
Core (always on): the ForeignCluster reconciler and the controller-manager's own needs.
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

{{/* Rules of the controller-manager inside the Liqo namespace (leader election). */}}
{{- define "liqo.core.namespaceRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
{{- end -}}
