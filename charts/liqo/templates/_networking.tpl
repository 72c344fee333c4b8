{{/*
Networking module: controller-manager permissions and settings.
Nothing here renders when networking.enabled is false.
*/}}

{{- define "liqo.networking.clusterRules" -}}
- apiGroups: ["networking.liqo.io"]
  resources: ["*"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["ipam.liqo.io"]
  resources: ["networks", "networks/status", "networks/finalizers", "ips", "ips/status", "ips/finalizers"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["nodes", "pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["services", "secrets", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
{{- end -}}

{{/*
The networking section of the controller-manager settings (YAML map): the transport, and
the options of that transport only (networking.gatewayTemplates.<transport>).
*/}}
{{- define "liqo.networking.settings" -}}
{{- $net := .Values.networking -}}
{{- $settings := dict "transport" $net.transport -}}
{{- with get ($net.gatewayTemplates | default dict) $net.transport }}
{{- $_ := set $settings "transports" (dict $net.transport .) -}}
{{- end -}}
{{- toYaml $settings -}}
{{- end -}}
