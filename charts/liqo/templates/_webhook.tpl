{{/*
Admission webhooks (upstream's liqo-webhook): served by the controller-manager's kopf
operator on webhook.port, reached by the API server through Service liqo-webhook. kopf
fills the two webhook configurations of that name (client config, CA bundle of the
serving certificate it generates at start, failure policy Fail); the chart only owns
them, so that uninstalling removes them.
*/}}
{{- define "liqo.webhook.name" -}}liqo-webhook{{- end -}}
{{- define "liqo.webhook.enabled" -}}
{{- if and .Values.webhook.enabled .Values.authentication.enabled }}true{{ end -}}
{{- end -}}

{{/* The webhook part of the authentication settings (YAML map). */}}
{{- define "liqo.webhook.settings" -}}
enabled: true
port: {{ .Values.webhook.port | int }}
service: {{ include "liqo.webhook.name" . }}
configuration: {{ include "liqo.webhook.name" . }}
{{- end -}}

{{/*
The offloading module's admission webhooks (VirtualNode defaults and checks): served by
the controller-manager's offloading operator on offloading.webhook.port, reached through
Service liqo-offloading-webhook; the chart owns the two configurations of that name.
*/}}
{{- define "liqo.offloading.webhook.name" -}}liqo-offloading-webhook{{- end -}}
{{- define "liqo.offloading.webhook.enabled" -}}
{{- if and .Values.webhook.enabled .Values.offloading.enabled }}true{{ end -}}
{{- end -}}

{{/* The webhook part of the offloading settings (YAML map). */}}
{{- define "liqo.offloading.webhook.settings" -}}
enabled: true
port: {{ .Values.offloading.webhook.port | int }}
service: {{ include "liqo.offloading.webhook.name" . }}
configuration: {{ include "liqo.offloading.webhook.name" . }}
{{- end -}}
