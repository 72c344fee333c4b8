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
# Discover the roles above by their app.kubernetes.io/name label.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  verbs: ["get", "list", "watch"]
# The serviceaccount-token identity provider: one ServiceAccount per consumer, tokens for it.
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["serviceaccounts/token"]
  verbs: ["create"]
# Quotas of granted ResourceSlices (provider).
- apiGroups: ["offloading.liqo.io"]
  resources: ["quotas"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# NamespaceMaps: replicated by the CRD replicator, removed from drained tenants.
- apiGroups: ["offloading.liqo.io"]
  resources: ["namespacemaps"]
  verbs: ["get", "list", "watch", "update", "patch", "delete"]
- apiGroups: ["offloading.liqo.io"]
  resources: ["namespacemaps/status", "namespacemaps/finalizers"]
  verbs: ["get", "update", "patch"]
# The module's admission webhooks: kopf creates its webhook configurations and keeps their
# client config (URL or Service, CA bundle) up to date.
- apiGroups: ["admissionregistration.k8s.io"]
  resources: ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]
  verbs: ["get", "create", "patch"]
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

{{/*
The authentication section of the controller-manager settings (YAML map): the module's
own values, and the install-wide values only this module reads: what consumers are told
about this cluster's API server (apiServer.*), the labels offered to them
(discovery.config.clusterLabels), the resources granted by default
(offloading.defaultNodeResources) and the enforcement of the Quotas of granted slices
(controllerManager.config.defaultLimitsEnforcement).
*/}}
{{- define "liqo.authentication.settings" -}}
{{- $auth := .Values.authentication -}}
{{- $settings := dict
  "tlsCompatibilityMode" $auth.tlsCompatibilityMode
  "defaultResourceSliceClassEnabled" $auth.defaultResourceSliceClassEnabled
  "identityProvider" $auth.identityProvider -}}
{{- $lifetime := $auth.credentialLifetime -}}
{{- if kindIs "string" $lifetime }}
{{- with $lifetime }}
{{- $_ := set $settings "credentialLifetime" . -}}
{{- end }}
{{- else if $lifetime }}
{{- /* Whole seconds: Helm reads numbers as floats, which YAML would print as 1e+06. */}}
{{- $_ := set $settings "credentialLifetime" (int64 $lifetime) -}}
{{- end }}
{{- $apiServer := dict -}}
{{- range $key := list "address" "ca" }}
{{- with get $.Values.apiServer $key }}
{{- $_ := set $apiServer $key . -}}
{{- end }}
{{- end }}
{{- with $apiServer }}
{{- $_ := set $settings "apiServer" . -}}
{{- end }}
{{- with .Values.discovery.config.clusterLabels }}
{{- $_ := set $settings "clusterLabels" . -}}
{{- end }}
{{- $resources := dict -}}
{{- range $name, $quantity := .Values.offloading.defaultNodeResources }}
{{- $_ := set $resources $name (toString $quantity) -}}
{{- end }}
{{- $_ := set $settings "defaultNodeResources" $resources -}}
{{- $_ := set $settings "defaultLimitsEnforcement" .Values.controllerManager.config.defaultLimitsEnforcement -}}
{{- if include "liqo.webhook.enabled" . }}
{{- $_ := set $settings "webhook" (include "liqo.webhook.settings" . | fromYaml) -}}
{{- end }}
{{- toYaml $settings -}}
{{- end -}}
