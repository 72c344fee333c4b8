{{/*
Authentication module: controller-manager permissions, the ClusterRoles it binds
consumers to, and its settings. Nothing here renders when authentication.enabled is false.
*/}}

{{- define "liqo.authentication.clusterRules" -}}
- apiGroups: ["authentication.liqo.io"]
  resources: ["tenants", "identities", "resourceslices", "renews"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["authentication.liqo.io"]
  resources:
    - "tenants/status"
    - "tenants/finalizers"
    - "identities/status"
    - "identities/finalizers"
    - "resourceslices/status"
    - "resourceslices/finalizers"
    - "renews/status"
    - "renews/finalizers"
  verbs: ["get", "update", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["create", "update", "patch", "delete"]
- apiGroups: ["certificates.k8s.io"]
  resources: ["certificatesigningrequests"]
  verbs: ["get", "list", "watch", "create", "delete"]
- apiGroups: ["certificates.k8s.io"]
  resources: ["certificatesigningrequests/approval"]
  verbs: ["update"]
- apiGroups: ["certificates.k8s.io"]
  resources: ["signers"]
  resourceNames: ["kubernetes.io/kube-apiserver-client"]
  verbs: ["approve", "sign"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["rolebindings", "clusterrolebindings"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  resourceNames: ["liqo-remote-controlplane", "liqo-virtual-kubelet-remote-clusterwide"]
  verbs: ["bind"]
{{- end -}}

{{/* What a consumer's control plane may do in its tenant namespace on this provider. */}}
{{- define "liqo.authentication.remoteControlPlaneRules" -}}
- apiGroups: ["authentication.liqo.io"]
  resources: ["resourceslices", "renews"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["authentication.liqo.io"]
  resources: ["resourceslices/status", "renews/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["offloading.liqo.io"]
  resources: ["namespacemaps"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["offloading.liqo.io"]
  resources: ["namespacemaps/status"]
  verbs: ["get", "update", "patch"]
{{- end -}}

{{/* What a consumer's virtual kubelets may read cluster-wide on this provider. */}}
{{- define "liqo.authentication.virtualKubeletClusterwideRules" -}}
- apiGroups: ["metrics.liqo.io"]
  resources: ["scrape", "scrape/metrics"]
  verbs: ["get", "list", "watch"]
{{- end -}}

{{/* The authentication section of the controller-manager settings (YAML map). */}}
{{- define "liqo.authentication.settings" -}}
{{- toYaml (dict
  "tlsCompatibilityMode" .Values.authentication.tlsCompatibilityMode
  "defaultResourceSliceClassEnabled" .Values.authentication.defaultResourceSliceClassEnabled) -}}
{{- end -}}
