{{/*
Offloading module: controller-manager permissions, the ClusterRole a consumer's virtual
kubelets get in their twin namespaces, and its settings.
Nothing here renders when offloading.enabled is false.
*/}}

{{- define "liqo.offloading.clusterRules" -}}
- apiGroups: ["offloading.liqo.io"]
  resources:
    - "virtualnodes"
    - "namespaceoffloadings"
    - "namespacemaps"
    - "shadowpods"
    - "shadowendpointslices"
    - "quotas"
    - "vkoptionstemplates"
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["offloading.liqo.io"]
  resources:
    - "virtualnodes/status"
    - "virtualnodes/finalizers"
    - "namespaceoffloadings/status"
    - "namespaceoffloadings/finalizers"
    - "namespacemaps/status"
    - "namespacemaps/finalizers"
    - "shadowpods/status"
    - "shadowpods/finalizers"
  verbs: ["get", "update", "patch"]
- apiGroups: [""]
  resources: ["nodes", "pods", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["nodes/status", "pods/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["create", "update", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["rolebindings"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  resourceNames: ["liqo-virtual-kubelet-remote"]
  verbs: ["bind"]
- apiGroups: ["certificates.k8s.io"]
  resources: ["certificatesigningrequests"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["certificates.k8s.io"]
  resources: ["certificatesigningrequests/approval"]
  verbs: ["update"]
- apiGroups: ["certificates.k8s.io"]
  resources: ["signers"]
  resourceNames: ["kubernetes.io/kubelet-serving"]
  verbs: ["approve"]
{{- end -}}

{{/* What a consumer's virtual kubelet may do in its twin namespaces on this provider. */}}
{{- define "liqo.offloading.virtualKubeletRemoteRules" -}}
- apiGroups: ["offloading.liqo.io"]
  resources: ["shadowpods", "shadowendpointslices"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["configmaps", "secrets", "services", "serviceaccounts", "persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["pods/exec", "pods/attach", "pods/portforward"]
  verbs: ["create", "get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
{{- end -}}

