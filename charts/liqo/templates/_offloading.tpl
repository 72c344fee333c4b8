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
# VirtualNode controller: one ClusterRoleBinding per virtual kubelet (liqo-node-<vn>) to
# liqo-virtual-kubelet-local, which it may bind without holding its permissions.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterrolebindings"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  resourceNames: ["liqo-virtual-kubelet-local"]
  verbs: ["bind"]
# (resourceslice_vncreator reads ResourceSlices, Identities and their Secrets with the
# authentication module's rules: it runs only with that module.)
# The module's admission webhooks: kopf creates its webhook configurations and keeps them.
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]
  verbs: ["get", "create", "patch"]
# NamespaceOffloading controller: watches the module's MutatingWebhookConfiguration to keep
# the pod webhook's namespaceSelector (kopf writes none).
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["mutatingwebhookconfigurations"]
  verbs: ["list", "watch"]
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
# As upstream's liqo-virtual-kubelet-remote: events are fully managed, pod logs listed and
# pod metrics (metrics.k8s.io) read.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["list"]
- apiGroups: ["metrics.k8s.io"]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
{{- end -}}


{{/*
What a virtual kubelet may do on its own (consumer) cluster, bound by the VirtualNode
controller (ClusterRoleBinding liqo-node-<vn>): register and keep its Node and lease,
read its VirtualNode, NamespaceMaps and kubeconfig Secret, follow and update the pods
bound to it, read what it reflects, mint ServiceAccount tokens, post events, ask for its
serving certificate (upstream's liqo-virtual-kubelet-local).
*/}}
{{- define "liqo.offloading.virtualKubeletLocalRules" -}}
- apiGroups: [""]
  resources: ["configmaps", "namespaces", "services", "services/status", "serviceaccounts"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources:
    - "events"
    - "nodes"
    - "nodes/status"
    - "persistentvolumeclaims"
    - "persistentvolumes"
    - "pods/status"
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["serviceaccounts/token"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["certificates.k8s.io"]
  resources: ["certificatesigningrequests"]
  verbs: ["get", "list", "watch", "create"]
- apiGroups: ["core.liqo.io"]
  resources: ["foreignclusters", "foreignclusters/status"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["offloading.liqo.io"]
  resources: ["virtualnodes", "namespacemaps"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["storage.k8s.io"]
  resources: ["storageclasses"]
  verbs: ["get", "list", "watch"]
{{- end -}}

{{/* Name of the default VkOptionsTemplate (Liqo namespace). */}}
{{- define "liqo.offloading.defaultTemplate" -}}virtual-kubelet-default{{- end -}}

{{/*
The offloading section of the controller-manager settings (YAML map): the VirtualNode
defaults and, with webhooks on, the module's webhook server.
*/}}
{{- define "liqo.offloading.settings" -}}
{{- $off := .Values.offloading -}}
{{- $settings := dict
  "createNode" $off.createNode
  "disableNetworkCheck" $off.disableNetworkCheck
  "defaultVkOptionsTemplate" (include "liqo.offloading.defaultTemplate" .)
  "runtimeClassName" $off.runtimeClass.name -}}
{{- if include "liqo.offloading.webhook.enabled" . }}
{{- $_ := set $settings "webhook" (include "liqo.offloading.webhook.settings" . | fromYaml) -}}
{{- end }}
{{- toYaml $settings -}}
{{- end -}}
